"""Group commit: the writes of many concurrent callers, one database round trip per batch.

Callers ``await submit(item)``. Writer tasks take what is queued (up to ``max_batch``),
write it with ``write`` (one statement or transaction for the whole batch) and hand each
caller its own result, or the batch's exception. Two writers by default, so one batch
gathers while the other commits. Under load a batch grows with the number of callers
waiting; alone, a caller waits for nothing but its own write.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")


class BatchClosed(RuntimeError):
    """The group commit was closed before this item was written."""


@dataclass
class _Pending(Generic[T, R]):
    item: T
    done: asyncio.Future[R]


class GroupCommit(Generic[T, R]):
    def __init__(
        self,
        write: Callable[[Sequence[T]], Awaitable[Sequence[R]]],
        *,
        name: str,
        max_batch: int = 512,
        writers: int = 2,
    ) -> None:
        self._write = write
        self._name = name
        self._max_batch = max_batch
        self._writers_wanted = writers
        self._queue: asyncio.Queue[_Pending[T, R]] = asyncio.Queue()
        self._writers: list[asyncio.Task[None]] = []

    async def submit(self, item: T) -> R:
        self._writers = [w for w in self._writers if not w.done()]
        while len(self._writers) < self._writers_wanted:
            self._writers.append(asyncio.create_task(self._write_loop(), name=self._name))
        done: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait(_Pending(item, done))
        return await done

    async def close(self) -> None:
        for writer in self._writers:
            writer.cancel()
        await asyncio.gather(*self._writers, return_exceptions=True)
        self._writers = []
        while not self._queue.empty():
            _fail([self._queue.get_nowait()], BatchClosed(self._name))

    async def _write_loop(self) -> None:
        while True:
            batch = [await self._queue.get()]
            while len(batch) < self._max_batch and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            try:
                results = await self._write([p.item for p in batch])
            except asyncio.CancelledError:
                _fail(batch, BatchClosed(self._name))
                raise
            except Exception as exc:
                _fail(batch, exc)
                continue
            for pending, result in zip(batch, results, strict=True):
                if not pending.done.done():
                    pending.done.set_result(result)


def _fail(batch: Sequence[_Pending[T, R]], exc: BaseException) -> None:
    for pending in batch:
        if not pending.done.done():
            pending.done.set_exception(exc)
