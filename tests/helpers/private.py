"""A RabbitMQ node and a PostgreSQL cluster of a test's own, for tests that stop or restart them.

The machine's shared servers (127.0.0.1:5672 and :5432) serve every other test, benchmark
and worktree. A test that restarts them breaks whatever else is running, and after a series
of node kills, a broker stop and a node join, the shared RabbitMQ 3.10 was seen wedged (TCP
accepted, the AMQP handshake timing out, ``rabbitmqctl`` hanging), failing every later test.
So such tests start these instead: everything on free ports, under one temp dir, with an
Erlang cookie, an epmd, a config and a data dir of their own, all removed at teardown.

Built from what the Debian packages install (``rabbitmq-server``, ``postgresql``), nothing
else: the package's ``/usr/sbin`` wrappers are bypassed because they ``su`` to the
``rabbitmq`` user and use its home and cookie; PostgreSQL refuses to run as root, so as root
it runs as the ``postgres`` user the package creates.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

RABBIT_BIN_DIRS = ("/usr/lib/rabbitmq/bin", "/usr/lib/rabbitmq/sbin")
#: AMQP 0-9-1 protocol header; a live broker answers it with a Connection.Start frame.
AMQP_HEADER = b"AMQP\x00\x00\x09\x01"


def free_ports(n: int) -> list[int]:
    """``n`` distinct free ports (held open together, so no two are the same)."""
    socks = [socket.socket() for _ in range(n)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [int(s.getsockname()[1]) for s in socks]
    finally:
        for s in socks:
            s.close()


def amqp_answers(port: int, timeout: float = 1.0) -> bool:
    """True when the broker on ``port`` starts an AMQP handshake (not just accepts TCP)."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout) as s:
            s.settimeout(timeout)
            s.sendall(AMQP_HEADER)
            frame = s.recv(7)
    except OSError:
        return False
    return len(frame) == 7 and frame[0] == 1  # a method frame on channel 0


def _find(name: str, dirs: tuple[str, ...], package: str) -> str:
    for d in dirs:
        if os.access(f"{d}/{name}", os.X_OK):
            return f"{d}/{name}"
    found = shutil.which(name)
    if found is None:
        raise RuntimeError(f"{name} not found: apt-get install -y {package}")
    return found


class PrivateRabbit:
    """One RabbitMQ node, a child of this process (so a teardown can always kill it)."""

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="zc-rmq-"))
        self.port, dist, epmd, ctl = free_ports(4)
        self.node = f"zctest{self.port}@localhost"
        server = _find("rabbitmq-server", RABBIT_BIN_DIRS, "rabbitmq-server")
        self._server = server
        self._ctl = str(Path(server).with_name("rabbitmqctl"))
        home = self.dir / "home"
        home.mkdir()
        cookie = home / ".erlang.cookie"
        cookie.write_text(secrets.token_hex(16).upper())
        cookie.chmod(0o400)  # Erlang refuses a cookie others can read
        (self.dir / "rabbitmq.conf").write_text(
            f"listeners.tcp.default = 127.0.0.1:{self.port}\n"
            "loopback_users = none\n"  # guest over 127.0.0.1 only, as on the shared broker
        )
        (self.dir / "rabbitmq-env.conf").write_text("")  # not /etc/rabbitmq's NODENAME etc.
        (self.dir / "enabled_plugins").write_text("[].\n")
        self.env = {
            "PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"),
            "LANG": "C.UTF-8",
            "HOME": str(home),  # where Erlang (server and CLI) reads the cookie
            "RABBITMQ_CONF_ENV_FILE": str(self.dir / "rabbitmq-env.conf"),
            "RABBITMQ_CONFIG_FILE": str(self.dir / "rabbitmq.conf"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(self.dir / "enabled_plugins"),
            "RABBITMQ_NODENAME": self.node,
            "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
            "RABBITMQ_NODE_PORT": str(self.port),
            "RABBITMQ_DIST_PORT": str(dist),
            "RABBITMQ_MNESIA_BASE": str(self.dir / "mnesia"),
            "RABBITMQ_LOG_BASE": str(self.dir / "log"),
            "RABBITMQ_PID_FILE": str(self.dir / "rabbit.pid"),
            # the CLI is an Erlang node too: its own dist port, not 35672.. (the shared CLI's)
            "RABBITMQ_CTL_DIST_PORT_MIN": str(ctl),
            "RABBITMQ_CTL_DIST_PORT_MAX": str(ctl),
            # an epmd of its own: the shared one is left alone, and this one goes at teardown
            "ERL_EPMD_PORT": str(epmd),
            "ERL_EPMD_ADDRESS": "127.0.0.1",
        }
        self._epmd: subprocess.Popen[bytes] | None = None
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.port}/"

    @property
    def log_path(self) -> Path:
        return self.dir / "server.log"

    def start(self) -> PrivateRabbit:
        """Start the node without waiting (``wait_ready`` waits): PostgreSQL starts meanwhile."""
        epmd = _find("epmd", ("/usr/lib/erlang/bin", "/usr/bin"), "erlang-base")
        self._epmd = subprocess.Popen(
            [epmd, "-port", self.env["ERL_EPMD_PORT"], "-address", "127.0.0.1"],
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        with self.log_path.open("ab") as log:
            self._proc = subprocess.Popen(
                [self._server],
                env=self.env,
                cwd=self.dir,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: killed as one at teardown
            )
        return self

    def wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while not amqp_answers(self.port):
            if self._proc is None or self._proc.poll() is not None:
                raise RuntimeError(f"private RabbitMQ exited; {self._tail()}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"private RabbitMQ not up in {timeout}s; {self._tail()}")
            time.sleep(0.1)

    def ctl(self, *args: str, timeout: float = 60.0) -> str:
        """``rabbitmqctl -n <this node> args`` (stop_app, start_app, await_startup …)."""
        done = subprocess.run(
            [self._ctl, "-n", self.node, "-q", *args],
            env=self.env,
            cwd=self.dir,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"rabbitmqctl {' '.join(args)}: {done.stdout}{done.stderr}")
        return done.stdout

    def close(self) -> None:
        """Stop the node (SIGTERM: a clean shutdown; SIGKILL if it hangs), its epmd, the dir."""
        for proc, grace in ((self._proc, 30.0), (self._epmd, 5.0)):
            if proc is not None:
                _stop_group(proc, grace)
        shutil.rmtree(self.dir, ignore_errors=True)

    def _tail(self) -> str:
        try:
            return "log: " + self.log_path.read_text(errors="replace")[-2000:]
        except OSError:
            return "no log"


class PrivatePostgres:
    """One PostgreSQL cluster (initdb into a temp dir), trust auth, on a free port."""

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="zc-pg-"))
        (self.port,) = free_ports(1)
        self.data = self.dir / "data"
        self.bindir = Path(_find("initdb", _postgres_bin_dirs(), "postgresql")).parent
        # root may not run postgres: the package's postgres user does, owning the temp dir
        self._user: int | None = None
        if os.geteuid() == 0:
            try:
                self._user = pwd.getpwnam("postgres").pw_uid
            except KeyError as exc:
                raise RuntimeError("no postgres user: apt-get install -y postgresql") from exc
            os.chown(self.dir, self._user, -1)
        self.dir.chmod(0o700)

    @property
    def url(self) -> str:
        """SQLAlchemy URL of its ``postgres`` database (the admin one tests create from)."""
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/postgres"

    def start(self) -> PrivatePostgres:
        # -N: no fsync of the new files, fsync=off below: a throwaway cluster, start it fast
        # C.UTF-8 as the shared cluster has, and always present on Debian (whatever the
        # caller's LANG names, initdb fails on a locale that is not installed)
        self._run(
            "initdb", "-D", str(self.data), "-U", "postgres", "-A", "trust", "-N",
            "-E", "UTF8", "--locale=C.UTF-8",
        )  # fmt: skip
        options = (
            f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
            "-c max_connections=200"
        )
        self.pg_ctl("start", "-o", options)
        return self

    def pg_ctl(self, *args: str, timeout: float = 60.0) -> None:
        """``pg_ctl -D <data> -w args``: restart, stop, start (it waits until done)."""
        log = str(self.dir / "server.log")
        self._run("pg_ctl", "-D", str(self.data), "-l", log, "-w", *args, timeout=timeout)

    def close(self) -> None:
        if (self.data / "postmaster.pid").exists():
            try:
                self.pg_ctl("stop", "-m", "immediate", timeout=30)
            except (RuntimeError, subprocess.TimeoutExpired):
                pid = int((self.data / "postmaster.pid").read_text().split()[0])
                os.kill(pid, signal.SIGKILL)
        shutil.rmtree(self.dir, ignore_errors=True)

    def _run(self, tool: str, *args: str, timeout: float = 60.0) -> None:
        extra: dict[str, Any] = {} if self._user is None else {"user": self._user}
        done = subprocess.run(
            [str(self.bindir / tool), *args],
            cwd=self.dir,  # the postgres user may not be able to enter the caller's cwd
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            **extra,
        )
        if done.returncode != 0:
            raise RuntimeError(f"{tool} {' '.join(args)}: {done.stdout}{done.stderr}")


def _postgres_bin_dirs() -> tuple[str, ...]:
    # Debian keeps initdb and pg_ctl off PATH, one directory per major version: the newest
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: int(p.parent.name))
    return tuple(str(p) for p in reversed(versions))


def _stop_group(proc: subprocess.Popen[bytes], grace: float) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(grace)
    # a clean exit can still leave children (erl_child_setup, inet_gethost) behind
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(5)
