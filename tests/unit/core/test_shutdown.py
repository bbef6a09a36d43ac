"""``Shutdown``: stages bounded by their share of the grace period; leftovers cancelled."""

from __future__ import annotations

import asyncio

from mgmt.core.shutdown import Shutdown


async def test_a_stage_that_overruns_is_abandoned_and_the_next_still_runs() -> None:
    shutdown = Shutdown(0.5)
    hung = asyncio.Event()  # never set: the stage can only end by its bound

    assert await shutdown.run("hangs", hung.wait(), share=0.1) is None
    assert await shutdown.run("next", asyncio.sleep(0, result="ran"), share=0.1) == "ran"
    assert shutdown.overran == ["hangs"]


async def test_a_failing_stage_does_not_skip_the_rest() -> None:
    shutdown = Shutdown.unbounded()

    async def boom() -> int:
        raise RuntimeError("stage failed")

    assert await shutdown.run("fails", boom(), share=0.1) is None
    assert await shutdown.run("next", asyncio.sleep(0, result=1), share=0.1) == 1


async def test_no_stage_gets_more_than_what_is_left() -> None:
    shutdown = Shutdown(10.0)
    assert shutdown.share(0.5) <= 5.0
    assert 5.0 < shutdown.share(2.0) <= 10.0  # capped by what is left, not 20


async def test_finish_cancels_leftover_tasks_and_names_those_that_ignore_it() -> None:
    shutdown = Shutdown(0.5)
    release = asyncio.Event()

    async def stubborn() -> None:
        while not release.is_set():
            try:
                await asyncio.sleep(10)
            except asyncio.CancelledError:
                continue  # a task that does not unwind: finish must not wait for it forever

    polite = asyncio.create_task(asyncio.sleep(10), name="polite")
    stuck = asyncio.create_task(stubborn(), name="stuck")
    await asyncio.sleep(0)
    await shutdown.finish(share=0.1)
    assert polite.cancelled()
    assert shutdown.overran == ["leftovers"]
    assert shutdown.stage == "finished"
    release.set()
    stuck.cancel()
    await asyncio.gather(stuck, return_exceptions=True)
