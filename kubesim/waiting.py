"""Timed waits that never swallow a cancellation.

``asyncio.wait_for`` on Python 3.11 and earlier loses a ``cancel()`` that
arrives just as the awaited event or queue item does (CPython issue 86296).
A stopped controller or watch handler then kept running, and stopping its
cluster hung until the stop timeout. ``asyncio.wait`` has no such race.
"""

from __future__ import annotations

import asyncio
from typing import Any

TIMED_OUT = object()


async def wait_event(event: asyncio.Event, timeout: float | None) -> bool:
    """Wait until ``event`` is set or ``timeout`` seconds pass; return whether it was set."""
    waiter = asyncio.ensure_future(event.wait())
    try:
        await asyncio.wait({waiter}, timeout=timeout)
    finally:
        waiter.cancel()
    return event.is_set()


async def get_item(queue: asyncio.Queue, timeout: float) -> Any:
    """Return the next item of ``queue``, or ``TIMED_OUT`` after ``timeout`` seconds."""
    getter = asyncio.ensure_future(queue.get())
    try:
        await asyncio.wait({getter}, timeout=timeout)
    finally:
        if not getter.done():
            getter.cancel()
    if getter.done() and not getter.cancelled():
        return getter.result()
    return TIMED_OUT
