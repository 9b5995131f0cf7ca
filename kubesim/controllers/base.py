"""Level-triggered controller loop shared by the simulated controllers.

Each controller rescans the whole store when a resource it watches changes.
The stores hold tens of objects, so full scans are cheap and keep every
controller idempotent: a pass that finds nothing to change writes nothing.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from ..store import Store, WatchEvent
from ..waiting import wait_event

if TYPE_CHECKING:
    from ..cluster import SimulatedCluster

log = logging.getLogger("kubesim.controllers")


class Controller:
    """A controller that runs `reconcile` after relevant store changes."""

    name = "controller"
    # Plurals whose changes wake this controller.
    watches: tuple[str, ...] = ()

    def __init__(self, store: Store, cluster: "SimulatedCluster | None" = None) -> None:
        self.store = store
        self.cluster = cluster
        self._wake = asyncio.Event()
        self._task: asyncio.Task | None = None
        self._failures = 0

    def start(self) -> None:
        self.store.add_listener(self._on_event)
        self._wake.set()
        self._task = asyncio.get_running_loop().create_task(self._run(), name=f"controller-{self.name}")

    async def stop(self) -> None:
        self.store.remove_listener(self._on_event)
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass

    def wake(self) -> None:
        self._wake.set()

    def _on_event(self, event: WatchEvent) -> None:
        if event.resource.plural in self.watches:
            self._wake.set()

    async def _run(self) -> None:
        next_due: float | None = None
        while True:
            await wait_event(self._wake, next_due)
            self._wake.clear()
            try:
                next_due = self.reconcile()
                self._failures = 0
            except Exception:  # a controller bug must not stop the simulated cluster
                self._failures += 1
                if self._failures <= 3:
                    log.exception("controller %s: reconcile failed", self.name)
                next_due = min(0.05 * 2 ** self._failures, 2.0)
            # Let writes from this pass reach their watchers before the next pass.
            await asyncio.sleep(0)

    def reconcile(self) -> float | None:
        """Bring the store towards the desired state; return seconds until a timed re-run, or None."""
        raise NotImplementedError
