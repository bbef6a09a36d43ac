"""Task UUIDs an agent has seen: a repeated UUID is never run twice."""

from __future__ import annotations

import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from agent.protocol import TaskState, TaskStatus


@dataclass
class TaskRecord:
    task_uuid: str
    command: str
    callback_url: str
    resource_uuid: str | None
    state: TaskState = TaskState.RUNNING
    reply: dict[str, Any] | None = None
    created: float = field(default_factory=time.monotonic)
    finished: float | None = None

    def status(self) -> TaskStatus:
        return TaskStatus(
            taskUuid=self.task_uuid, command=self.command, state=self.state, reply=self.reply
        )


class TaskRegistry:
    """Bounded memory of tasks: finished ones are evicted oldest first past ``max_entries``
    or after ``ttl`` seconds; running ones are never evicted."""

    def __init__(self, max_entries: int = 200_000, ttl: float = 3600.0) -> None:
        self._tasks: OrderedDict[str, TaskRecord] = OrderedDict()
        self._max = max_entries
        self._ttl = ttl

    def __len__(self) -> int:
        return len(self._tasks)

    def get(self, task_uuid: str) -> TaskRecord | None:
        return self._tasks.get(task_uuid)

    def add(self, record: TaskRecord) -> None:
        self._evict()
        self._tasks[record.task_uuid] = record

    def finish(self, record: TaskRecord, reply: dict[str, Any]) -> None:
        record.reply = reply
        record.state = TaskState.DONE
        record.finished = time.monotonic()
        self._tasks.move_to_end(record.task_uuid)

    def _evict(self) -> None:
        now = time.monotonic()
        while self._tasks:
            oldest = next(iter(self._tasks.values()))
            expired = oldest.finished is not None and now - oldest.finished > self._ttl
            if len(self._tasks) < self._max and not expired:
                return
            if oldest.state is TaskState.RUNNING:
                # oldest is still running: finished ones sit behind it (moved to the end)
                return
            self._tasks.popitem(last=False)
