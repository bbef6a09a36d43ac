"""How many times the simulator ran each command: per task UUID and per command path;
and the per-VM locks that run one command of a VM at a time (``KeyedLocks``).

What tests assert "ran exactly once" on (a resumed flow step must re-attach to its task, not
send it again), and what an operator reads in a fault drill. Counted when a command starts
running (after the protocol's de-duplication of repeated task UUIDs), so a repeat that the
agent answered from its task memory does not count; an injected failure does (it ran).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter, OrderedDict
from collections.abc import AsyncIterator


class RunCounts:
    """Per-task counts are bounded (oldest forgotten past ``max_tasks``); per-path counts
    are a few entries per host and never forgotten."""

    def __init__(self, max_tasks: int = 200_000) -> None:
        self._by_task: OrderedDict[str, int] = OrderedDict()
        self._by_path: dict[str, Counter[str]] = {}
        self._max_tasks = max_tasks

    def ran(self, host_uuid: str, path: str, task_uuid: str | None) -> None:
        self._by_path.setdefault(host_uuid, Counter())[path] += 1
        if task_uuid:
            self._by_task[task_uuid] = self._by_task.get(task_uuid, 0) + 1
            self._by_task.move_to_end(task_uuid)
            while len(self._by_task) > self._max_tasks:
                self._by_task.popitem(last=False)

    def of_host(self, host_uuid: str) -> dict[str, int]:
        return dict(self._by_path.get(host_uuid, Counter()))

    def summary(
        self, task_uuid: str | None = None, host_uuid: str | None = None
    ) -> dict[str, object]:
        """``{"byPath": {path: n}, "byTask": {task: n}}``, filtered by task and/or host."""
        if host_uuid is not None:
            by_path = self.of_host(host_uuid)
        else:
            total: Counter[str] = Counter()
            for counts in self._by_path.values():
                total.update(counts)
            by_path = dict(total)
        if task_uuid is not None:
            by_task = {task_uuid: self._by_task.get(task_uuid, 0)}
        else:
            by_task = dict(self._by_task)
        return {"byPath": by_path, "byTask": by_task}


class KeyedLocks:
    """An ``asyncio.Lock`` per key, kept only while someone holds or waits for it."""

    def __init__(self) -> None:
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}

    @contextlib.asynccontextmanager
    async def hold(self, key: str) -> AsyncIterator[None]:
        lock, users = self._locks.get(key, (asyncio.Lock(), 0))
        self._locks[key] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[key]
            if users <= 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, users - 1)
