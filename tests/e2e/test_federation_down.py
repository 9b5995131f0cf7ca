"""federation-down.sh removes only what federation-up.sh created, and only for the federation it is named for."""

from __future__ import annotations

import json

import pytest

from tests.e2e.scripts import FEDERATION_DOWN, FEDERATION_UP, kubectl, run
from tests.e2e.test_federation_up import DOCS_ENV, OWNER, owned

KUBEFED_ENV = {
    "USE_KUBEFED": "true",
    "KUBE_REGISTRY": "k8s.gcr.io",
    "KUBERNETES_RELEASE": "v1.8.0",
    "FEDERATION_WAIT_TIMEOUT": "60",
}


def create_namespace_with_configmap(clusters, namespace: str) -> None:
    """Create ``namespace`` and an unlabelled ConfigMap ``team-settings`` in it, as another team would."""
    env = clusters.env()
    created = kubectl(f"--context={clusters.host}", "create", "namespace", namespace, env=env)
    assert created.returncode == 0, created.explain()
    configmap = kubectl(f"--context={clusters.host}", "-n", namespace, "create", "configmap", "team-settings", "--from-literal=owner=team", env=env)
    assert configmap.returncode == 0, configmap.explain()


def get_json(clusters, *args: str) -> dict | None:
    """Return ``kubectl get ARGS -o json`` on the host, or None when the object does not exist."""
    result = kubectl(f"--context={clusters.host}", "get", *args, "-o", "json", env=clusters.env())
    if result.returncode != 0 and "NotFound" in result.stderr:
        return None
    assert result.returncode == 0, result.explain()
    return json.loads(result.stdout)


@pytest.mark.parametrize(
    ("namespace", "extra_env", "owner"),
    [
        ("team-b", DOCS_ENV, "myfederation"),
        ("federation-system", KUBEFED_ENV, "e2e-federation"),
    ],
    ids=["direct", "kubefed"],
)
def test_existing_namespace_kept_by_down(clusters, namespace, extra_env, owner):
    create_namespace_with_configmap(clusters, namespace)
    env = clusters.env(**{**extra_env, "FEDERATION_NAMESPACE": namespace})

    up = run(FEDERATION_UP, env=env)

    assert up.returncode == 0, up.explain()
    assert f"Namespace {namespace!r} exists without the label {OWNER}={owner}" in up.stderr
    stored = get_json(clusters, "namespace", namespace)
    assert OWNER not in (stored["metadata"].get("labels") or {})
    assert "federation.alpha.kubernetes.io/federation-name" not in (stored["metadata"].get("annotations") or {})
    assert owned(clusters, clusters.host, owner) != []

    down = run(FEDERATION_DOWN, env=env)

    assert down.returncode == 0, down.explain()
    assert f"kept namespace {namespace}" in down.stderr
    assert get_json(clusters, "namespace", namespace) is not None
    configmap = get_json(clusters, "configmap", "team-settings", "-n", namespace)
    assert configmap is not None
    assert configmap["data"] == {"owner": "team"}
    assert owned(clusters, clusters.host, owner) == []


def test_labelled_namespace_deleted_by_down(clusters):
    env = clusters.env(**{**DOCS_ENV, "FEDERATION_NAMESPACE": "team-b"})
    first = run(FEDERATION_UP, env=env)
    assert first.returncode == 0, first.explain()

    second = run(FEDERATION_UP, env=env)

    assert second.returncode == 0, second.explain()
    assert "exists without the label" not in second.stderr
    down = run(FEDERATION_DOWN, env=env)
    assert down.returncode == 0, down.explain()
    assert get_json(clusters, "namespace", "team-b") is None


@pytest.mark.parametrize("namespace", ["default", "kube-public"])
def test_system_namespace_never_deleted(clusters, namespace):
    labelled = kubectl(f"--context={clusters.host}", "label", "namespace", namespace, f"{OWNER}=myfederation", env=clusters.env())
    assert labelled.returncode == 0, labelled.explain()
    env = clusters.env(**{**DOCS_ENV, "FEDERATION_NAMESPACE": namespace})
    up = run(FEDERATION_UP, env=env)
    assert up.returncode == 0, up.explain()

    down = run(FEDERATION_DOWN, env=env)

    assert down.returncode == 0, down.explain()
    assert f"kept namespace {namespace}" in down.stderr
    stored = get_json(clusters, "namespace", namespace)
    assert stored is not None
    assert "deletionTimestamp" not in stored["metadata"]
    assert owned(clusters, clusters.host, "myfederation") == [f"Namespace//{namespace}"]


def test_down_rejects_other_federation_name(clusters):
    member = clusters.members[0]
    env = clusters.env(**{**DOCS_ENV, "FEDERATION_CLUSTERS": member})
    up = run(FEDERATION_UP, env=env)
    assert up.returncode == 0, up.explain()
    corefile = kubectl(f"--context={member}", "-n", "kube-system", "get", "configmap", "coredns", "-o", "jsonpath={.data.Corefile}", env=clusters.env())
    assert corefile.returncode == 0, corefile.explain()
    kubeconfig_before = clusters.kubeconfig.read_text()

    down = run(FEDERATION_DOWN, env=clusters.env(FEDERATION_WAIT_TIMEOUT="60"))

    assert down.returncode == 3, down.explain()
    assert "'myfederation'" in down.stderr
    assert "'federation'" in down.stderr
    assert "set FEDERATION_NAME=myfederation" in down.stderr
    assert "Unjoining" not in down.stderr
    assert clusters.kubeconfig.read_text() == kubeconfig_before
    listed = kubectl("--context=federation-cluster", "get", "clusters", "-o", "json", env=clusters.env())
    assert listed.returncode == 0, listed.explain()
    assert [item["metadata"]["name"] for item in json.loads(listed.stdout)["items"]] == ["kind-member1"]
    assert get_json(clusters, "deployment", "federation-controller-manager", "-n", "federation") is not None
    corefile_after = kubectl(f"--context={member}", "-n", "kube-system", "get", "configmap", "coredns", "-o", "jsonpath={.data.Corefile}", env=clusters.env())
    assert corefile_after.stdout == corefile.stdout
    assert "myfederation" in corefile_after.stdout


def test_down_rejects_name_from_namespace_label(clusters):
    created = kubectl(f"--context={clusters.host}", "create", "namespace", "federation", env=clusters.env())
    assert created.returncode == 0, created.explain()
    labelled = kubectl(f"--context={clusters.host}", "label", "namespace", "federation", f"{OWNER}=other", env=clusters.env())
    assert labelled.returncode == 0, labelled.explain()

    down = run(FEDERATION_DOWN, env=clusters.env())

    assert down.returncode == 3, down.explain()
    assert "set FEDERATION_NAME=other" in down.stderr
    assert get_json(clusters, "namespace", "federation") is not None


def test_down_nothing_deployed_exits_zero(clusters):
    down = run(FEDERATION_DOWN, env=clusters.env(FEDERATION_NAME="myfederation"))

    assert down.returncode == 0, down.explain()
    assert "Nothing to remove" in down.stderr
