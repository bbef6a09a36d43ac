"""``Shutdown``: one grace period for the whole stop path of a process, split into stages.

Used by the process entry points (``mgmt.server``) and the objects they stop
(``ManagementNode.stop``, ``NodeRuntime.stop``, ``ApiFrontend.stop``). Every await on the
stop path can hang on a loaded machine or a slow broker — closing a channel that holds
unacked deliveries, a group-commit writer mid-batch, a database pool dispose — so each runs
as a stage with a bound: its share of the grace period, never more than what is left of it.
A stage that overruns is logged by name (``shutdown.stage_overran``) and abandoned; the stop
goes on with the next stage, because leaving a stage half-done is safe by design: deliveries
not acked are returned by the broker when the connection drops (at-least-once), and flow
runs not finished are resumed by the partition's next owner (flow recovery).

The grace period is also a hard limit: ``arm`` starts a watchdog thread that ends the
process (exit code 70) if it is still running when the grace expires — a thread, so that
even an event loop blocked by a stuck call cannot keep the process alive — and a second
SIGTERM/SIGINT ends it at once the same way.
"""

from __future__ import annotations

import asyncio
import os
import sys
import threading
import time
from collections.abc import Awaitable, Iterable
from typing import NoReturn, TypeVar

from mgmt.core.logging import get_logger

log = get_logger(__name__)

T = TypeVar("T")

#: Exit code of a process the grace period (or a second signal) ended: EX_SOFTWARE.
FORCED_EXIT_CODE = 70


class Shutdown:
    """The deadline of one process's stop and the stages that spend it."""

    def __init__(self, grace: float) -> None:
        self.grace = grace
        self._deadline = time.monotonic() + grace
        self.stage = "starting"
        self._watchdog: threading.Timer | None = None
        self.overran: list[str] = []

    @classmethod
    def unbounded(cls) -> Shutdown:
        """For callers with no grace period (tests, the all-in-one): stages only log."""
        return cls(float("inf"))

    def remaining(self) -> float:
        return max(0.0, self._deadline - time.monotonic())

    def share(self, fraction: float) -> float:
        """``fraction`` of the grace period, or what is left of it if that is less."""
        return min(self.grace * fraction, self.remaining())

    def arm(self) -> None:
        """Start the watchdog: the process ends when the grace period does."""
        if self._watchdog is not None or self.grace == float("inf"):
            return
        self._watchdog = threading.Timer(self.remaining(), self.force, args=("grace expired",))
        self._watchdog.daemon = True  # never the reason the interpreter waits at exit
        self._watchdog.start()

    def disarm(self) -> None:
        if self._watchdog is not None:
            self._watchdog.cancel()
            self._watchdog = None

    def force(self, reason: str) -> None:
        """End the process now (any thread): what was not handed back, the broker and flow
        recovery hand to the next owner. Once every stage has run (``finish``) the stop was
        clean and only the exit hung: the exit code says so (0)."""
        code = 0 if self.stage == "finished" else FORCED_EXIT_CODE
        log.error("shutdown.forced", reason=reason, stage=self.stage, grace=self.grace, code=code)
        os._exit(code)

    async def finish(self, *, share: float) -> None:
        """The last stage: cancel the tasks still alive and wait (bounded) for them to end.

        Otherwise the event loop's own teardown cancels them and waits without a bound, and
        a task that does not unwind (one whose stage overran, a library's background task)
        keeps a stopped process alive. The watchdog stays armed through the interpreter's
        exit; the stuck tasks are named in the log."""
        current = asyncio.current_task()
        left = [t for t in asyncio.all_tasks() if t is not current and not t.done()]
        if left:
            log.info("shutdown.cancelling_leftovers", count=len(left), tasks=_names(left))
            for task in left:
                task.cancel()
            bound = self.share(share)
            _, pending = await asyncio.wait(left, timeout=bound if bound != float("inf") else None)
            if pending:
                self.overran.append("leftovers")
                log.error("shutdown.tasks_ignored_cancel", tasks=_names(pending))
        self.stage = "finished"

    def exit(self) -> NoReturn:
        """Every stage has run: leave now, skipping the event loop's and the interpreter's
        teardown. On a loaded machine that teardown alone took 2-5 s after the stop had
        finished (measured under test), and none of it does anything a stopped process
        needs: the stages closed what had to be closed, and the logs are flushed here."""
        log.info("shutdown.exit", overran=self.overran, left=round(self.remaining(), 3))
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)

    async def run(self, stage: str, aw: Awaitable[T], *, share: float) -> T | None:
        """Await ``aw`` for at most ``share`` of the grace period (less if less is left).

        Returns its result, or None when it overran (logged, cancelled). Exceptions of the
        stage are logged and swallowed: a failed stage must not skip the stages after it."""
        bound = self.share(share)
        self.stage = stage
        started = time.monotonic()
        # A task of its own, waited for with a timeout and left behind when it overruns:
        # ``asyncio.timeout`` would wait for the cancelled work to unwind (a gather of
        # handlers each suspending its flow run on a slow database), unbounded. ``finish``
        # cancels what is left behind, with a bound of its own.
        task = asyncio.ensure_future(aw)
        try:
            done, _ = await asyncio.wait({task}, timeout=None if bound == float("inf") else bound)
        except asyncio.CancelledError:
            task.cancel()
            raise
        if not done:
            task.cancel()
            self.overran.append(stage)
            log.error("shutdown.stage_overran", stage=stage, bound=round(bound, 3))
            return None
        exc = task.exception()
        if exc is not None:
            log.error("shutdown.stage_failed", stage=stage, error=repr(exc))
            return None
        log.info("shutdown.stage_done", stage=stage, seconds=round(time.monotonic() - started, 3))
        return task.result()


def _names(tasks: Iterable[asyncio.Task[object]]) -> list[str]:
    return sorted(f"{t.get_name()}:{getattr(t.get_coro(), '__qualname__', '?')}" for t in tasks)[
        :20
    ]
