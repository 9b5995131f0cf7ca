"""Simulated clusters for the reliability tests.

These tests inject faults and read the clusters' stores directly, which only
kubesim allows, so they run on the simulated backend only.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.conftest import Clusters, _simulated
from tests.reliability.convergence import clean_state


@pytest.fixture
def cluster_options() -> dict:
    """Override in a test module to change the clusters: load_balancer, member_dns, require_token."""
    return {}


@pytest.fixture
def clusters(tmp_path: Path, cluster_options: dict) -> Iterator[Clusters]:
    yield from _simulated(
        tmp_path,
        load_balancer=cluster_options.get("load_balancer", True),
        member_dns=cluster_options.get("member_dns", ("coredns", "kube-dns")),
        require_token=cluster_options.get("require_token", True),
    )


@pytest.fixture(scope="session")
def clean(tmp_path_factory):
    """State each scenario reaches without faults or signals, computed once per scenario."""
    states = {}

    def state(scenario: str) -> dict:
        if scenario not in states:
            states[scenario] = clean_state(tmp_path_factory.mktemp(f"clean-{scenario}"), scenario)
        return states[scenario]

    return state
