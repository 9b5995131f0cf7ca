"""Teardown leaves nothing: a search by the ownership label over every kind kubesim stores finds no object."""

from __future__ import annotations

import time

from tests.e2e.scripts import DEPLOY, FEDERATION_DOWN, FEDERATION_UP, KUBEFED, run
from tests.e2e.test_federation_up import DOCS_ENV, store_member_kubeconfigs
from tests.reliability.support import kubeconfig_entries, owned_objects

NO_ENTRIES = {"cluster": False, "user": False, "context": False}


def deploy_env(clusters, tmp_path):
    return clusters.env(FEDERATION_OUTPUT_ROOT=str(tmp_path / "output"), FEDERATION_HOST_CLUSTER_CONTEXT=clusters.host, FEDERATION_CLUSTERS=",".join(clusters.members), FEDERATION_WAIT_TIMEOUT="60")


def owned_after(cluster, federation_name: str, seconds: float) -> list[str]:
    """Return the owned objects left once they are gone or ``seconds`` have passed."""
    deadline = time.monotonic() + seconds
    leftovers = owned_objects(cluster, federation_name)
    while leftovers and time.monotonic() < deadline:
        time.sleep(0.1)
        leftovers = owned_objects(cluster, federation_name)
    return leftovers


def run_ok(script, *args, env):
    result = run(script, *args, env=env)
    assert result.returncode == 0, result.explain()
    return result


def test_unjoin_then_destroy_leaves_nothing(clusters, tmp_path):
    env = deploy_env(clusters, tmp_path)
    for action in ("init", "deploy_federation", "join_clusters"):
        run_ok(DEPLOY, action, env=env)
    for context in clusters.members:
        assert owned_objects(clusters.cluster(context), "federation") != [], f"join left no trace in {context}, so the search below proves nothing"

    run_ok(DEPLOY, "unjoin_clusters", env=env)

    for context in clusters.members:
        assert owned_objects(clusters.cluster(context), "federation") == [], context
    host_secrets = [name for name in owned_objects(clusters.cluster(clusters.host), "federation") if name.startswith("Secret/") and "kind-member1" in name]
    assert host_secrets == []

    run_ok(DEPLOY, "destroy_federation", env=env)

    for context in [clusters.host, *clusters.members]:
        assert owned_objects(clusters.cluster(context), "federation") == [], context
    assert kubeconfig_entries(clusters.kubeconfig, "federation-cluster") == NO_ENTRIES


def test_kubefed_unjoin_leaves_nothing(clusters, tmp_path):
    env = deploy_env(clusters, tmp_path)
    for action in ("init", "deploy_federation"):
        run_ok(DEPLOY, action, env=env)
    member = clusters.members[0]
    flags = (f"--host-cluster-context={clusters.host}", "--federation-system-namespace=federation", "--timeout=60")
    host_before = owned_objects(clusters.cluster(clusters.host), "federation")
    run_ok(KUBEFED, "join", member, "--credentials=serviceaccount", *flags, env=env)

    run_ok(KUBEFED, "unjoin", member, *flags, env=env)

    # NOTE: unjoin returns while the member's namespace is still Terminating, so allow the
    # namespace controller a bounded moment to finish the deletion unjoin requested.
    assert owned_after(clusters.cluster(member), "federation", seconds=10) == []
    assert owned_objects(clusters.cluster(clusters.host), "federation") == host_before


def test_federation_down_leaves_nothing(clusters):
    store_member_kubeconfigs(clusters)
    env = clusters.env(**DOCS_ENV)
    run_ok(FEDERATION_UP, env=env)
    assert owned_objects(clusters.cluster(clusters.host), "myfederation") != []

    run_ok(FEDERATION_DOWN, env=env)

    for context in [clusters.host, *clusters.members]:
        assert owned_objects(clusters.cluster(context), "myfederation") == [], context
    assert kubeconfig_entries(clusters.kubeconfig, "federation-cluster") == NO_ENTRIES


def test_federation_down_kubefed_path_leaves_nothing(clusters):
    env = clusters.env(USE_KUBEFED="true", KUBE_REGISTRY="k8s.gcr.io", KUBERNETES_RELEASE="v1.8.0", FEDERATION_CLUSTERS=",".join(clusters.members), FEDERATION_WAIT_TIMEOUT="60")
    run_ok(FEDERATION_UP, env=env)
    for context in clusters.members:
        assert owned_objects(clusters.cluster(context), "e2e-federation") != [], context

    run_ok(FEDERATION_DOWN, env=env)

    for context in [clusters.host, *clusters.members]:
        assert owned_objects(clusters.cluster(context), "e2e-federation") == [], context
    assert kubeconfig_entries(clusters.kubeconfig, "e2e-federation") == NO_ENTRIES
