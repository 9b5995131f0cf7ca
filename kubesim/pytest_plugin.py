"""pytest plugin with the `kubesim_clusters` fixture.

Enable it with `pytest_plugins = ["kubesim.pytest_plugin"]` in a conftest.py.
"""

from __future__ import annotations

from typing import Callable

import pytest

from .cluster import ClusterSpec
from .simulation import SimulatedClusters


@pytest.fixture
def kubesim_clusters(tmp_path) -> Callable[..., SimulatedClusters]:
    """Return a factory: `kubesim_clusters(specs, kubeconfig=None)` starts clusters and returns them.

    The kubeconfig defaults to tmp_path/kubeconfig. Every started simulation
    is stopped at teardown.
    """
    started: list[SimulatedClusters] = []

    def start(specs: list[ClusterSpec | str], kubeconfig=None) -> SimulatedClusters:
        resolved = [ClusterSpec(s) if isinstance(s, str) else s for s in specs]
        default = tmp_path / (f"kubeconfig-{len(started)}" if started else "kubeconfig")
        path = kubeconfig or default
        sim = SimulatedClusters(resolved, path).start()
        started.append(sim)
        return sim

    yield start

    for sim in reversed(started):
        sim.stop()
