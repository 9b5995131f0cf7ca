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


def test_destroy_unregisters_members_first(clusters, env):
    assert run(DEPLOY, "join_clusters", env=env).returncode == 0
    member = clusters.cluster(clusters.members[0])
    corefile_before_join = None
    for item in member.objects("v1", "ConfigMap", "kube-system"):
        if item["metadata"]["name"].startswith("coredns-federation-backup"):
            corefile_before_join = item

    result = run(DEPLOY, "destroy_federation", env=env)

    assert result.returncode == 0, result.explain()
    assert corefile_before_join is not None
    corefile = member.get_object("v1", "ConfigMap", "coredns", "kube-system")["data"]["Corefile"]
    assert "federation" not in corefile
    for context in clusters.members:
        owned = [item["metadata"]["name"] for kind in ("ConfigMap", "Secret", "ServiceAccount") for item in clusters.cluster(context).objects("v1", kind)
                 if (item["metadata"].get("labels") or {}).get("federation.k8s.io/federation-name")]
        assert owned == [], f"left in {context}"


def test_destroy_keeps_existing_namespace(clusters, env, tmp_path):
    host = clusters.cluster(clusters.host)
    host.put_object({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team-a"}})
    host.put_object({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "precious", "namespace": "team-a"}, "data": {"a": "b"}})
    (tmp_path / "out" / "values.yaml").write_text('namespace: "team-a"\n')
    deployed = run(DEPLOY, "deploy_federation", env=env)
    assert deployed.returncode == 0, deployed.explain()

    result = run(DEPLOY, "destroy_federation", env=env)

    assert result.returncode == 0, result.explain()
    assert host.get_object("v1", "Namespace", "team-a") is not None
    assert host.get_object("v1", "ConfigMap", "precious", "team-a") is not None
    assert host.get_object("apps/v1", "Deployment", "federation-apiserver", "team-a") is None


def test_join_clusters_rejects_federation_context(clusters, env):
    result = run(DEPLOY, "join_clusters", env={**env, "FEDERATION_CLUSTERS": "federation-cluster"})

    assert result.returncode == 3, result.explain()
    assert "member context 'federation-cluster' is the federation API server's context" in result.stderr
    assert registered(env) == {}


def test_join_clusters_hint_leaves_out_federation_context(clusters, env):
    result = run(DEPLOY, "join_clusters", env={**env, "FEDERATION_CLUSTERS": "no-such-context"})
    hint = next(line for line in result.stderr.splitlines() if line.startswith("hint:"))

    assert result.returncode == 3, result.explain()
    assert clusters.members[0] in hint
    assert "federation-cluster" not in hint


def test_join_clusters_unreachable_member_is_preflight(clusters, env):
    for args in (
        ("config", "set-cluster", "dead", "--server=https://127.0.0.1:1", "--insecure-skip-tls-verify=true"),
        ("config", "set-context", "dead-member", "--cluster=dead", "--user=nobody"),
    ):
        assert kubectl(*args, env=env).returncode == 0

    alone = run(DEPLOY, "join_clusters", env={**env, "FEDERATION_CLUSTERS": "dead-member"})
    mixed = run(DEPLOY, "join_clusters", env={**env, "FEDERATION_CLUSTERS": f"dead-member,{clusters.members[0]}"})

    assert alone.returncode == 4, alone.explain()
    assert "https://127.0.0.1:1" in alone.stderr
    assert mixed.returncode == 4, mixed.explain()
    assert "1 of 2 joins failed" in mixed.stderr
    assert "https://127.0.0.1:1" in mixed.stderr
