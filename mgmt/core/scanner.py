"""``PartitionScanner``: periodic work over the partitions this node owns.

A partition listener (``mgmt.core.node``) that runs ``scan(owned)`` every ``interval``
seconds and at once when ownership changes; a failed scan is logged and the loop goes on.
Used by the flow take-over, the GC queue and the API job sweeper.
"""

from __future__ import annotations

import asyncio
import contextlib

from mgmt.core.logging import get_logger

log = get_logger(__name__)


class PartitionScanner:
    """A loop over the owned partitions every ``interval`` s and whenever they change."""

    name = "scanner"

    def __init__(self, interval: float) -> None:
        self._interval = interval
        self._owned: frozenset[int] = frozenset()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def partitions_changed(self, owned: frozenset[int]) -> None:
        self._owned = owned
        if owned and self._task is None:
            self._task = asyncio.create_task(self._loop(), name=self.name)
        self._wake.set()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def _loop(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._interval)
            self._wake.clear()
            if not self._owned:
                continue
            try:
                await self.scan(self._owned)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning(f"{self.name}.scan_failed", error=f"{type(exc).__name__}: {exc}")

    async def scan(self, owned: frozenset[int]) -> None:
        raise NotImplementedError
