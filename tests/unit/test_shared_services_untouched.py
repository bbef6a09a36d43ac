"""No test or benchmark drives the shared RabbitMQ or PostgreSQL's control tools directly.

Stopping or restarting the machine's shared servers breaks every other test and worktree
using them (and once left the broker wedged): such tests go through ``own_services``
(tests/helpers/private.py). This scan catches a new ``subprocess.run(["rabbitmqctl", …])``
or ``pg_ctlcluster … restart`` before it ever runs.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
#: The control tools, as a quoted program name (an argv element or a command string).
TOOLS = re.compile(r"""["'](rabbitmqctl|rabbitmq-server|pg_ctlcluster|pg_ctl|initdb)\b""")
ALLOWED = {
    # the private instances themselves
    "tests/helpers/private.py",
    # read-only: list_queues, to delete a test's own queues by prefix
    "mgmt/bench/env.py",
    # the start check's fix message names the command (printed for a person, never run)
    "tests/helpers/services.py",
    # this scan
    "tests/unit/test_shared_services_untouched.py",
}


def test_only_the_private_instances_call_the_control_tools() -> None:
    offenders = []
    for path in sorted([*ROOT.glob("tests/**/*.py"), *ROOT.glob("mgmt/**/*.py")]):
        rel = path.relative_to(ROOT).as_posix()
        if rel in ALLOWED:
            continue
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if TOOLS.search(line):
                offenders.append(f"{rel}:{number}: {line.strip()}")
    assert not offenders, (
        "stop/restart RabbitMQ or PostgreSQL only on own_services "
        "(tests/helpers/private.py), never the shared ones:\n" + "\n".join(offenders)
    )
