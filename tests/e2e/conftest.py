"""The ``clusters`` fixture: one host and two members, simulated or on kind.

Scenario bodies are written once against ``Clusters``. The simulated backend
(default) starts kubesim, a test double that speaks the Kubernetes API on
loopback; it does not show what only a real cluster shows (scheduling, real
networking, images that actually run). The kind backend (``--backend=kind``
or ``-m kind``) runs the same bodies on real kind clusters.

Every test that uses ``clusters`` is collected twice, as ``[simulated]`` and
``[kind]``; the kind variant carries the ``kind`` marker. A plain ``pytest``
run deselects the kind variants before anything runs, so it never probes
Docker.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest


@dataclass
class Clusters:
    """What a scenario needs to drive the scripts against a host and its members."""

    backend: str
    kubeconfig: Path
    host: str  # kubeconfig context of the host cluster
    members: list[str]  # kubeconfig contexts of the member clusters
    home: Path
    sim: Any = None  # kubesim.SimulatedClusters on the simulated backend, None on kind
    extra_env: dict[str, str] = field(default_factory=dict)
    views: dict[str, Any] = field(default_factory=dict)  # context -> API-backed stand-in for a simulated cluster (kind)

    def env(self, **overrides: str) -> dict[str, str]:
        """Environment for a script run: this kubeconfig, a private HOME, plus ``overrides``."""
        return {"KUBECONFIG": str(self.kubeconfig), "HOME": str(self.home), **self.extra_env, **overrides}

    def cluster(self, context: str) -> Any:
        """The cluster behind ``context``: the simulated one, or on kind an object with the same read methods."""
        if context in self.views:
            return self.views[context]
        if self.sim is None:
            pytest.skip("needs direct access to a simulated cluster's store")
        for cluster in self.sim.clusters.values():
            if cluster.context == context:
                return cluster
        raise KeyError(context)


def _simulated(tmp_path: Path, load_balancer: bool, member_dns: tuple[str, str], require_token: bool) -> Iterator[Clusters]:
    from kubesim import ClusterSpec, SimulatedClusters

    kubeconfig = tmp_path / "kube" / "config"
    kubeconfig.parent.mkdir(parents=True)
    home = tmp_path / "home"
    home.mkdir()
    specs = [
        ClusterSpec("host", context="federation-e2e-host", load_balancer=load_balancer),
        ClusterSpec("member1", context="kind-member1", dns=member_dns[0], require_token=require_token),
        ClusterSpec("member2", context="admin@kind:member2/eu", dns=member_dns[1]),
    ]
    with SimulatedClusters(specs, kubeconfig) as sim:
        yield Clusters("simulated", kubeconfig, "federation-e2e-host", ["kind-member1", "admin@kind:member2/eu"], home, sim)


@pytest.fixture
def cluster_options() -> dict:
    """Override in a test module to change the clusters: load_balancer, member_dns, require_token."""
    return {}


BACKENDS = ("simulated", "kind")


def selected_backends(config: pytest.Config) -> set[str]:
    """Return the backends whose test variants this run keeps.

    ``--backend=kind`` keeps only kind variants. Otherwise the simulated
    variants stay, and the kind variants too when the ``-m`` expression names
    the ``kind`` marker, so ``-m kind`` selects them and ``-m "not kind"``
    deselects them as usual.
    """
    if config.getoption("--backend") == "kind":
        return {"kind"}
    words = re.findall(r"[A-Za-z_]+", config.getoption("markexpr", default="") or "")
    return {"simulated", "kind"} if "kind" in words else {"simulated"}


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "cluster_backend" in metafunc.fixturenames:
        metafunc.parametrize("cluster_backend", ["simulated", pytest.param("kind", marks=pytest.mark.kind)])


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    wanted = selected_backends(config)
    selected, deselected = [], []
    for item in items:
        callspec = getattr(item, "callspec", None)
        backend = callspec.params.get("cluster_backend") if callspec else None
        (deselected if backend is not None and backend not in wanted else selected).append(item)
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = selected


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    # The kind backend reads these after the test, to save the clusters' logs when it failed.
    from tests.e2e.kind_support import REPORTS

    report = yield
    item.stash.setdefault(REPORTS, {})[report.when] = report
    return report


@pytest.fixture
def cluster_backend(request) -> str:
    """The backend of this test variant; parametrized by pytest_generate_tests."""
    return request.param


@pytest.fixture
def clusters(request, tmp_path: Path, cluster_options: dict, cluster_backend: str) -> Iterator[Clusters]:
    if cluster_backend == "kind":
        from tests.e2e.kind_backend import kind_clusters

        yield from kind_clusters(request, tmp_path, cluster_options)
        return

    yield from _simulated(
        tmp_path,
        load_balancer=cluster_options.get("load_balancer", True),
        member_dns=cluster_options.get("member_dns", ("coredns", "kube-dns")),
        require_token=cluster_options.get("require_token", True),
    )
