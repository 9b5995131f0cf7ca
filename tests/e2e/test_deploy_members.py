"""deploy.sh join_clusters and unjoin_clusters: registering FEDERATION_CLUSTERS."""

from __future__ import annotations

import json

import pytest

from tests.e2e.scripts import DEPLOY, kubectl, run


@pytest.fixture
def env(clusters, tmp_path):
    env = clusters.env(FEDERATION_OUTPUT_ROOT=str(tmp_path / "out"), FEDERATION_HOST_CLUSTER_CONTEXT=clusters.host, FEDERATION_CLUSTERS=",".join(clusters.members), FEDERATION_WAIT_TIMEOUT="60")
    assert run(DEPLOY, "init", env=env).returncode == 0
    deployed = run(DEPLOY, "deploy_federation", env=env)
    assert deployed.returncode == 0, deployed.explain()
    return env


def registered(env) -> dict[str, str]:
    answer = kubectl("--context=federation-cluster", "get", "clusters", "-o", "json", env=env)
    assert answer.returncode == 0, answer.explain()
    ready = {}
    for item in json.loads(answer.stdout)["items"]:
        conditions = {condition["type"]: condition["status"] for condition in (item.get("status") or {}).get("conditions") or []}
        ready[item["metadata"]["name"]] = conditions.get("Ready", "Unknown")
    return ready


def test_join_clusters_registers_members_ready(clusters, env):
    result = run(DEPLOY, "join_clusters", env=env)

    assert result.returncode == 0, result.explain()
    ready = registered(env)
    assert len(ready) == 2
    assert set(ready.values()) == {"True"}


def test_join_clusters_twice_converges(clusters, env):
    assert run(DEPLOY, "join_clusters", env=env).returncode == 0

    again = run(DEPLOY, "join_clusters", env=env)

    assert again.returncode == 0, again.explain()
    assert len(registered(env)) == 2


def test_unjoin_clusters_removes_members(clusters, env):
    assert run(DEPLOY, "join_clusters", env=env).returncode == 0

    result = run(DEPLOY, "unjoin_clusters", env=env)

    assert result.returncode == 0, result.explain()
    assert registered(env) == {}
    host = clusters.cluster(clusters.host)
    secrets = [item["metadata"]["name"] for item in host.objects("v1", "Secret", "federation") if item.get("type") != "kubernetes.io/service-account-token"]
    assert all(name.startswith(("federation-apiserver", "federation-controller-manager")) for name in secrets)


def test_join_clusters_unknown_context_writes_nothing(clusters, env):
    result = run(DEPLOY, "join_clusters", env={**env, "FEDERATION_CLUSTERS": "no-such-context"})

    assert result.returncode == 3, result.explain()
    assert "FEDERATION_CLUSTERS" in result.stderr
    assert registered(env) == {}
