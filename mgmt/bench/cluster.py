"""Run zcloud processes on this machine: benchmarks and the multi-process tests use it.

``LocalCluster`` starts real ``zcloud mgmt`` / ``zcloud api`` / ``zcloud agent sim``
processes against one database and one bus prefix, waits for them over HTTP, and can kill
them with any signal.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Proc:
    name: str
    argv: list[str]
    env: dict[str, str]
    port: int
    log_path: Path
    cwd: Path | None = None
    popen: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Proc:
        log = self.log_path.open("ab")
        self.popen = subprocess.Popen(
            self.argv,
            env=self.env,
            cwd=self.cwd,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        return self

    @property
    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.alive:
            assert self.popen is not None
            self.popen.send_signal(sig)

    async def wait_exit(self, timeout: float = 30.0) -> int:
        assert self.popen is not None
        deadline = time.monotonic() + timeout
        while self.popen.poll() is None:
            if time.monotonic() > deadline:
                self.popen.kill()
                self.popen.wait(5)  # reap it: never leave a zombie behind
                raise TimeoutError(f"{self.name} did not exit in {timeout}s")
            await asyncio.sleep(0.05)
        return self.popen.returncode

    async def wait_ready(self, path: str = "/ready", timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        async with httpx.AsyncClient() as client:
            while True:
                if not self.alive:
                    raise RuntimeError(f"{self.name} exited; log:\n{self.tail()}")
                try:
                    if (await client.get(self.url + path, timeout=2)).status_code == 200:
                        return
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{self.name} not ready in {timeout}s; log:\n{self.tail()}")
                await asyncio.sleep(0.1)

    async def get_json(self, path: str) -> dict[str, object]:
        async with httpx.AsyncClient() as client:
            resp = await client.get(self.url + path, timeout=5)
            result: dict[str, object] = resp.json()
            return result

    def tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


@dataclass
class LocalCluster:
    db_url: str
    amqp_url: str
    prefix: str
    workdir: Path
    partitions: int = 64
    #: connections each process may hold: a test's and a benchmark's processes share one
    #: PostgreSQL (100 connections by default), two test workers at once included
    db_pool_size: int = 10
    extra_env: dict[str, str] = field(default_factory=dict)
    procs: list[Proc] = field(default_factory=list)

    def env(self, **overrides: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("ZCLOUD_")}
        env.update(
            ZCLOUD_DB_URL=self.db_url,
            ZCLOUD_AMQP_URL=self.amqp_url,
            ZCLOUD_BUS_PREFIX=self.prefix,
            ZCLOUD_PARTITIONS=str(self.partitions),
            ZCLOUD_DB_POOL_SIZE=str(self.db_pool_size),
            ZCLOUD_LOG_JSON="true",
        )
        env.update(self.extra_env)
        env.update(overrides)
        return env

    def _proc(self, name: str, args: list[str], port: int, env: dict[str, str]) -> Proc:
        self.workdir.mkdir(parents=True, exist_ok=True)
        proc = Proc(
            name, [sys.executable, "-m", "mgmt.cli", *args], env, port, self.workdir / f"{name}.log"
        )
        self.procs.append(proc)
        return proc

    def mgmt(self, node_id: str, **env: str) -> Proc:
        port = free_port()
        return self._proc(
            node_id,
            ["mgmt"],
            port,
            self.env(ZCLOUD_NODE_ID=node_id, ZCLOUD_MGMT_PORT=str(port), **env),
        )

    def api(self, node_id: str, **env: str) -> Proc:
        port = free_port()
        return self._proc(
            node_id,
            ["api"],
            port,
            self.env(ZCLOUD_NODE_ID=node_id, ZCLOUD_API_PORT=str(port), **env),
        )

    def sim(self, name: str = "sim", hosts: int = 0) -> Proc:
        port = free_port()
        args = ["agent", "sim", "--port", str(port), "--hosts", str(hosts)]
        return self._proc(name, args, port, self.env())

    async def stop_all(self, grace: float = 20.0) -> list[str]:
        """SIGTERM everything, SIGKILL what has not exited after ``grace`` s; reap all.
        Returns the names of the processes that had to be killed."""
        for proc in self.procs:
            proc.kill(signal.SIGTERM)
        killed = []
        for proc in self.procs:
            if proc.popen is None:
                continue
            try:
                await proc.wait_exit(grace)
            except TimeoutError:
                killed.append(proc.name)
                await proc.wait_exit(5)
        return killed
