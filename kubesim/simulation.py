"""SimulatedClusters: several clusters on one background event loop thread."""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from typing import Iterator

from .cluster import ClusterSpec, SimulatedCluster
from .kubeconfig import kubeconfig_for, write_kubeconfig

log = logging.getLogger("kubesim")

START_TIMEOUT = 30.0


class SimulatedClusters:
    """Start simulated clusters and write a kubeconfig with one context per cluster.

    Use as a context manager, or call start() and stop(). Clusters are looked
    up by name with `sim["host"]`.
    """

    def __init__(self, specs: list[ClusterSpec], kubeconfig_path: str | os.PathLike[str]) -> None:
        names = [s.name for s in specs]
        if len(set(names)) != len(names):
            raise ValueError(f"cluster names must be unique, got {names}")
        contexts = [s.context for s in specs]
        if len(set(contexts)) != len(contexts):
            raise ValueError(f"context names must be unique, got {contexts}")
        self.specs = list(specs)
        self.kubeconfig_path = os.fspath(kubeconfig_path)
        self.clusters: dict[str, SimulatedCluster] = {}
        self.loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> "SimulatedClusters":
        if self._thread is not None:
            return self
        self.loop = asyncio.new_event_loop()
        ready = threading.Event()

        def run() -> None:
            asyncio.set_event_loop(self.loop)
            self.loop.call_soon(ready.set)
            self.loop.run_forever()

        self._thread = threading.Thread(target=run, name="kubesim-loop", daemon=True)
        self._thread.start()
        ready.wait()

        # Creating the clusters generates their certificates, so do it off the event loop.
        self.clusters = {spec.name: SimulatedCluster(spec) for spec in self.specs}
        try:
            self.run(self._start_all(), timeout=START_TIMEOUT)
        except BaseException:
            self.stop()
            raise
        write_kubeconfig(self.kubeconfig_path, kubeconfig_for(list(self.clusters.values())))
        return self

    async def _start_all(self) -> None:
        await asyncio.gather(*(c.start() for c in self.clusters.values()))

    def run(self, coroutine, timeout: float | None = None):
        """Run a coroutine on the simulation's event loop from another thread and return its result."""
        if self.loop is None:
            raise RuntimeError("the simulated clusters are not started")
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    def stop(self) -> None:
        if self.loop is None or self._thread is None:
            return
        try:
            self.run(self._stop_all(), timeout=START_TIMEOUT)
        except Exception:  # stopping must finish even if one cluster fails to stop cleanly
            log.exception("stopping the simulated clusters failed")
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=10)
        self.loop.close()
        self.loop = None
        self._thread = None

    async def _stop_all(self) -> None:
        await asyncio.gather(*(c.stop() for c in self.clusters.values()), return_exceptions=True)

        # Open watches and in-flight probes would otherwise be destroyed with the closed loop.
        current = asyncio.current_task()
        leftovers = [t for t in asyncio.all_tasks() if t is not current]
        for task in leftovers:
            task.cancel()
        await asyncio.gather(*leftovers, return_exceptions=True)
        await self.loop.shutdown_asyncgens()

    def __enter__(self) -> "SimulatedClusters":
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()

    def __getitem__(self, name: str) -> SimulatedCluster:
        return self.clusters[name]

    def __iter__(self) -> Iterator[SimulatedCluster]:
        return iter(self.clusters.values())

    def __len__(self) -> int:
        return len(self.clusters)
