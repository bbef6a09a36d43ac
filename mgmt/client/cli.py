"""The ``zcloud`` client commands: log in, list the APIs, call any API by name.

``main(argv)`` is wired into the ``zcloud`` console script by the server-side CLI (and runs
as ``python -m mgmt.client.cli``). Every API of the server works with no per-API code:
``zcloud CreateZone name=z1``, ``zcloud QueryZone state!=Disabled --limit 10``. Exit codes:
0 done, 2 the request was refused (a 4xx, bad arguments, not logged in), 1 anything else
(server error, unreachable, the job did not finish in time).
"""

from __future__ import annotations

import argparse
import getpass
import json
import re
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from mgmt.client.client import ZCloud
from mgmt.client.core import PollPolicy, ProgressCallback, RetryPolicy
from mgmt.client.errors import ApiError, ClientError, UsageError
from mgmt.client.names import Lookup, queryable, resolve_names
from mgmt.client.render import emit, operations_table, render_body, say, show_operation
from mgmt.client.session import SavedSession, clear_session, load_session, save_session
from mgmt.client.spec import OperationInfo, ParamInfo

EXIT_OK = 0
EXIT_FAILED = 1  # the server failed, could not be reached, or the job ran out of time
EXIT_REFUSED = 2  # the request was wrong: 4xx, bad arguments, not logged in

_QUERY = re.compile(r"^Query[A-Z]")
_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_.]*$")
_QUERY_OPTIONS = ("limit", "start", "sort", "fields", "count")
_COMMANDS = frozenset({"login", "logout", "apis", "zql"})
_VALUE_OPTIONS = frozenset(
    {
        *("--url", "--timeout", "--account", "--user", "--password"),
        *("--limit", "--start", "--sort", "--fields"),
    }
)
#: where the client goes without --url or a saved session: what ``zcloud up`` serves
DEFAULT_URL = "http://127.0.0.1:8080"

USAGE = """\
zcloud login [--url URL] --account NAME [--user NAME] [--password P]
       zcloud logout
       zcloud apis                                             (no login needed)
       zcloud <Api> [key=value ...] [--json] [--timeout S]      e.g. CreateZone name=z1
       zcloud Query<Resource> [condition ...] [--limit N] [--start N] [--sort +f|-f]
                              [--fields a,b] [--count] [--json]
       zcloud Get<Resource> uuid=UUID [--json]
       zcloud StopVmInstance web1                              a name for a UUID
       zcloud zql "query zone where name='z1'" [--json]
       zcloud <Api> --help                                     its parameters (no login)"""

DESCRIPTION = """\
Values are read as JSON when they parse (5, true, null, ["a","b"], "quoted text"), else
as text. Where an API wants a UUID (uuid=, imageUuid=, l3NetworkUuids=[...]), a
resource's name does too: it is looked up, and refused if it names several. A
list parameter takes a JSON list or a comma-separated one (l3NetworkUuids=net1,net2).
Query conditions are passed as written: name=z1 state!=Disabled name~=web-%.
The session is kept in ~/.zcloud/session.json (or $ZCLOUD_CLIENT_CONFIG). Without --url
and a saved session, the client talks to http://127.0.0.1:8080 (zcloud up)."""


@dataclass
class CliEnv:
    """What the commands talk to: the two consoles, the password prompt and (in tests) the
    HTTP transport."""

    out: Console
    err: Console
    prompt: Callable[[str], str] = getpass.getpass
    transport: httpx.BaseTransport | None = None
    retry: RetryPolicy | None = None
    progress: bool = True

    @classmethod
    def default(cls) -> CliEnv:
        out = Console()
        if not out.is_terminal:  # piped: never wrap or cut a UUID to fit 80 columns
            out = Console(width=1000)
        return cls(out=out, err=Console(stderr=True))


def main(argv: list[str]) -> int:
    """Run one ``zcloud`` client command; returns the exit code."""
    return run(argv, CliEnv.default())


def run(argv: Sequence[str], env: CliEnv) -> int:
    parser = _parser()
    try:
        args = parser.parse_intermixed_args(_attach_values(argv))
    except SystemExit as exc:  # argparse has printed why
        return exc.code if isinstance(exc.code, int) else EXIT_REFUSED
    try:
        return _dispatch(parser, args, env)
    except ApiError as exc:
        relogin = exc.status == 401 and args.command != "login"
        hint = " (log in again: zcloud login)" if relogin else ""
        _error(env, f"error {exc}{hint}")
        return EXIT_REFUSED if exc.is_client_error else EXIT_FAILED
    except ClientError as exc:
        _error(env, f"error: {exc}")
        return EXIT_FAILED
    except KeyboardInterrupt:
        _error(env, "interrupted (a job already submitted keeps running)")
        return 130


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="zcloud",
        usage=USAGE,
        description=DESCRIPTION,
        add_help=False,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("command", nargs="?", help="login, logout, apis, zql or an API name")
    p.add_argument("args", nargs="*", help="key=value parameters or query conditions")
    p.add_argument("-h", "--help", action="store_true", help="show help (of an API: its params)")
    p.add_argument("--url", help="the API's base URL (default: the saved session's)")
    p.add_argument("--json", action="store_true", help="print the raw JSON answer")
    p.add_argument(
        "--timeout", type=_seconds, default=600.0, help="seconds to wait for a job (default 600)"
    )
    p.add_argument("--account", help="login: the account name")
    p.add_argument("--user", help="login: a user of the account (default: the account itself)")
    p.add_argument("--password", help="login: the password (prompted for when omitted)")
    p.add_argument("--limit", type=int, help="query: at most N results")
    p.add_argument("--start", type=int, help="query: skip the first N results")
    p.add_argument("--sort", help="query: +field or -field")
    p.add_argument("--fields", help="query: only these fields, comma separated")
    p.add_argument("--count", action="store_true", help="query: print only the total")
    return p


def _seconds(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise ValueError(text)
    return value


def _attach_values(argv: Sequence[str]) -> list[str]:
    """``--sort -name`` as ``--sort=-name``: argparse would take ``-name`` for an option."""
    out: list[str] = []
    args = iter(argv)
    for arg in args:
        if arg in _VALUE_OPTIONS:
            value = next(args, None)
            out.append(arg if value is None else f"{arg}={value}")
        else:
            out.append(arg)
    return out


def _dispatch(parser: argparse.ArgumentParser, args: argparse.Namespace, env: CliEnv) -> int:
    command: str | None = args.command
    if command is None or (args.help and command in _COMMANDS):
        if args.help:
            say(env.out, parser.format_help())
            return EXIT_OK
        _error(env, f"usage: {USAGE}")
        return EXIT_REFUSED
    if not _QUERY.match(command) and any(
        getattr(args, o) not in (None, False) for o in _QUERY_OPTIONS
    ):
        raise UsageError("--limit, --start, --sort, --fields and --count are for Query<Resource>")
    if command == "login":
        return _login(args, env)
    if command == "logout":
        return _logout(env)
    saved = load_session()
    url = args.url or (saved.url if saved else None) or DEFAULT_URL
    token = saved.token if saved and _same_url(saved.url, url) else None
    with _client(url, token, args, env) as client:
        # the OpenAPI document is public: listing and describing APIs need no session
        if command == "apis":
            return _apis(client, args, env)
        if args.help:
            show_operation(env.out, client.operation(command))
            return EXIT_OK
        if token is None:
            raise UsageError(f"not logged in to {url}: run zcloud login --url {url} --account NAME")
        if command == "zql":
            if not args.args:
                raise UsageError('zql needs a statement: zcloud zql "query zone"')
            return _show(env, args, client.zql(" ".join(args.args)))
        if _QUERY.match(command):
            return _query(client, command, args, env)
        return _call(client, command, args, env)


def _login(args: argparse.Namespace, env: CliEnv) -> int:
    saved = load_session()
    url = args.url or (saved.url if saved else None) or DEFAULT_URL
    if not args.account:
        raise UsageError("login needs --account NAME", field="account")
    who = f"user {args.user} of {args.account}" if args.user else args.account
    password = args.password
    if password is None:
        password = env.prompt(f"password for {who} at {url}: ")
    with _client(url, None, args, env) as client:
        token = client.login(args.account, password, user=args.user)
    session = SavedSession(
        url=url.rstrip("/"), token=token, account=args.account, user=args.user or ""
    )
    path = save_session(session)
    say(env.out, f"logged in to {url} as {who} (session saved in {path})")
    return EXIT_OK


def _logout(env: CliEnv) -> int:
    saved = load_session()
    if saved is None:
        say(env.out, "not logged in")
        return EXIT_OK
    code = EXIT_OK
    client = ZCloud(saved.url, token=saved.token, retry=env.retry, transport=env.transport)
    try:
        client.logout()
    except ApiError as exc:
        if exc.status != 401:  # 401: the session had ended already
            _error(env, f"warning: the server did not end the session: {exc}")
            code = EXIT_FAILED
    except ClientError as exc:
        _error(env, f"warning: the server did not end the session: {exc}")
        code = EXIT_FAILED
    finally:
        client.close()
        clear_session()
    say(env.out, f"logged out of {saved.url}")
    return code


def _apis(client: ZCloud, args: argparse.Namespace, env: CliEnv) -> int:
    ops = client.operations()
    if args.json:
        listing = [
            {"name": op.name, "method": op.method, "path": op.path, "summary": op.summary}
            for op in ops
        ]
        _print_json(env, listing)
    else:
        emit(env.out, operations_table(ops))
    return EXIT_OK


def _query(client: ZCloud, command: str, args: argparse.Namespace, env: CliEnv) -> int:
    result = client.query(
        command[len("Query") :],
        *args.args,
        limit=args.limit,
        start=args.start,
        sort=args.sort,
        fields=args.fields,
        count=args.count,
    )
    if args.count:
        body: dict[str, Any] = {"total": result.total}
    else:
        body = {"inventories": result.inventories, "total": result.total}
    columns = [f.strip() for f in args.fields.split(",")] if args.fields else None
    return _show(env, args, body, columns)


def _call(client: ZCloud, command: str, args: argparse.Namespace, env: CliEnv) -> int:
    op = client.operation(command)
    params = resolve_names(
        op, parse_params(args.args, op), queryable(client.operations()), _lookup(client)
    )
    with _progress(env, op) as on_progress:
        body = client.call(op.name, on_progress=on_progress, **params)
    return _show(env, args, body)


def _lookup(client: ZCloud) -> Lookup:
    def lookup(resource: str, name: str) -> list[str]:
        try:
            found = client.query(resource, f"name={name}", fields="uuid", limit=10)
        except ApiError:  # a resource without names: the value goes as given
            return []
        return [str(inv["uuid"]) for inv in found.inventories]

    return lookup


def parse_value(text: str) -> Any:
    """A parameter value: JSON when it parses (numbers, true/false/null, lists, objects,
    "quoted" strings), otherwise the text itself."""
    try:
        return json.loads(text, parse_constant=_no_constant)
    except ValueError:
        return text


def parse_params(items: Sequence[str], op: OperationInfo | None = None) -> dict[str, Any]:
    """``key=value`` arguments as parameters. A bare value fills the operation's one path
    parameter (``zcloud DeleteZone <uuid>``)."""
    params: dict[str, Any] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep:
            paths = [p.name for p in op.path_params] if op is not None else []
            if len(paths) == 1 and paths[0] not in params:
                params[paths[0]] = item
                continue
            raise UsageError(f"expected key=value, got {item!r}")
        if not _KEY.match(key):
            raise UsageError(f"{item!r}: the key must be a parameter name", field=key)
        if key in params:
            raise UsageError(f"{key}: given twice", field=key)
        params[key] = _as_list(parse_value(raw), op.param(key) if op is not None else None)
    return params


def _as_list(value: Any, info: ParamInfo | None) -> Any:
    """A list parameter given as text is a comma-separated list: ``l3NetworkUuids=a,b``."""
    if info is not None and info.type.startswith("list[") and isinstance(value, str):
        return [v.strip() for v in value.split(",") if v.strip()]
    return value


def _no_constant(name: str) -> Any:
    raise ValueError(name)  # NaN / Infinity are text, not numbers


@contextmanager
def _client(url: str, token: str | None, args: argparse.Namespace, env: CliEnv) -> Iterator[ZCloud]:
    client = ZCloud(
        url,
        token=token,
        retry=env.retry,
        poll=PollPolicy(job_timeout=args.timeout),
        transport=env.transport,
    )
    try:
        yield client
    finally:
        client.close()


@contextmanager
def _progress(env: CliEnv, op: OperationInfo) -> Iterator[ProgressCallback | None]:
    """A spinner with the job's state and the time spent, on stderr, for writes only."""
    if op.is_read or not env.progress or not env.err.is_terminal:
        yield None
        return
    columns = (SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn())
    with Progress(*columns, console=env.err, transient=True) as progress:
        task = progress.add_task(f"{op.name}: submitted")

        def update(state: str, elapsed: float) -> None:
            progress.update(task, description=f"{op.name}: {state}")

        yield update


def _show(
    env: CliEnv,
    args: argparse.Namespace,
    body: Mapping[str, Any],
    columns: Sequence[str] | None = None,
) -> int:
    if args.json:
        _print_json(env, body)
    else:
        render_body(env.out, body, columns)
    return EXIT_OK


def _print_json(env: CliEnv, data: Any) -> None:
    text = json.dumps(data, indent=2, ensure_ascii=False)
    say(env.out, text)


def _error(env: CliEnv, message: str) -> None:
    say(env.err, message)


def _same_url(a: str, b: str) -> bool:
    return a.rstrip("/") == b.rstrip("/")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
