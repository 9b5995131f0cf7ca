"""Shared fixtures for the kubesim tests: a kubectl runner and a shared three-cluster simulation."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from kubernetes import client, config

from kubesim import ClusterSpec, SimulatedClusters
from kubesim.pytest_plugin import kubesim_clusters  # noqa: F401  (fixture used by the tests)
from kubesim_helpers import Kubectl, wait_for


@pytest.fixture(scope="session")
def shared_sim(tmp_path_factory):
    """Three clusters shared by the contract tests; each test works in its own namespace."""
    directory = tmp_path_factory.mktemp("shared")
    specs = [ClusterSpec("host", load_balancer=True), ClusterSpec("member1", require_token=True),
             ClusterSpec("member2", dns="kube-dns")]
    sim = SimulatedClusters(specs, directory / "kubeconfig").start()
    yield sim
    sim.stop()


@pytest.fixture
def kubectl(shared_sim, tmp_path) -> Kubectl:
    return Kubectl(Path(shared_sim.kubeconfig_path), tmp_path)


@pytest.fixture
def host(shared_sim):
    return shared_sim["host"]


@pytest.fixture
def namespace(host) -> str:
    """A fresh namespace in the host cluster."""
    name = f"t-{uuid.uuid4().hex[:8]}"
    host.put_object({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    # Let the serviceaccount controller finish, so tests see a quiet namespace.
    wait_for(lambda: host.get_object("v1", "ConfigMap", "kube-root-ca.crt", name)
             and host.get_object("v1", "ServiceAccount", "default", name), what=f"namespace {name} set-up")
    return name


@pytest.fixture
def api_client(shared_sim):
    api = config.new_client_from_config(shared_sim.kubeconfig_path, context="host")
    yield api
    api.close()


@pytest.fixture
def core(api_client) -> client.CoreV1Api:
    return client.CoreV1Api(api_client)


@pytest.fixture
def apps(api_client) -> client.AppsV1Api:
    return client.AppsV1Api(api_client)
