"""Poll instead of sleeping: ``await eventually(check, timeout=…)``."""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Callable
from typing import Any


async def eventually(
    check: Callable[[], Any],
    *,
    timeout: float = 10.0,
    interval: float = 0.05,
    message: str = "",
) -> Any:
    """Call ``check`` until it returns a truthy value (returned) or raises no AssertionError;
    fail after ``timeout`` seconds with the last value or error."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while True:
        try:
            value = check()
            if inspect.isawaitable(value):
                value = await value
            if value:
                return value
            last = value
        except AssertionError as exc:
            last = exc
        if time.monotonic() >= deadline:
            raise AssertionError(f"not true within {timeout}s: {message} (last: {last!r})")
        await asyncio.sleep(interval)
