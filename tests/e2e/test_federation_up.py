"""federation-up.sh and federation-down.sh as the docs run them, on a host and two members."""

from __future__ import annotations

import ipaddress
import json
import re
import subprocess
import sys

import pytest
import yaml

from tests.e2e.scripts import FEDERATION_DOWN, FEDERATION_UP, kubectl, run

OWNER = "federation.k8s.io/federation-name"
DOCS_ENV = {
    "KUBERNETES_PROVIDER": "gce",
    "FEDERATION_DNS_PROVIDER": "google-clouddns",
    "FEDERATION_NAME": "myfederation",
    "DNS_ZONE_NAME": "myfederation.example",
    "FEDERATION_PUSH_REPO_BASE": "k8s.gcr.io",
    "FEDERATION_IMAGE_TAG": "v1.5.0",
    "FEDERATION_WAIT_TIMEOUT": "60",
}


def store_member_kubeconfigs(clusters) -> dict[str, str]:
    """Write each member's kubeconfig where kube-up left it for federation-up.sh; return secret name -> context."""
    names = {}
    for index, context in enumerate(clusters.members):
        directory = clusters.kubeconfig.parent / "federation" / "kubernetes-apiserver" / f"member_{index + 1}"
        directory.mkdir(parents=True)
        flattened = kubectl("config", "view", "--minify", "--flatten", f"--context={context}", env=clusters.env())
        assert flattened.returncode == 0, flattened.explain()
        (directory / "kubeconfig").write_text(flattened.stdout)
        names[f"member-{index + 1}"] = context
    return names


def owned(clusters, context: str, name: str) -> list[str]:
    """Return every object labelled for federation ``name`` in ``context``, as kind/namespace/name."""
    found = []
    kinds = "namespaces,deployments,services,secrets,configmaps,persistentvolumeclaims,serviceaccounts,roles,rolebindings,clusterroles,clusterrolebindings"
    listed = kubectl(f"--context={context}", "get", kinds, "-A", "-l", f"{OWNER}={name}", "-o", "json", env=clusters.env())
    assert listed.returncode == 0, listed.explain()
    for item in json.loads(listed.stdout)["items"]:
        found.append(f"{item['kind']}/{item['metadata'].get('namespace', '')}/{item['metadata']['name']}")
    return found


def test_docs_command_line_brings_up_federation(clusters):
    members = store_member_kubeconfigs(clusters)

    result = run(FEDERATION_UP, env=clusters.env(**DOCS_ENV))

    assert result.returncode == 0, result.explain()
    found = re.search(r"Found federation-apiserver host at (\S+)", result.stderr)
    assert found, result.explain()
    assert ipaddress.ip_address(found.group(1)).is_loopback
    assert "federation-apiserver pod is running!" in result.stderr
    assert "federation-controller-manager pod is running!" in result.stderr
    for name in members:
        assert f"Creating secret with name: {name}" in result.stderr

    host = clusters.cluster(clusters.host)
    apiserver = host.get_object("apps/v1", "Deployment", "federation-apiserver", "federation")
    manager = host.get_object("apps/v1", "Deployment", "federation-controller-manager", "federation")
    service = host.get_object("v1", "Service", "federation-apiserver", "federation")
    container = apiserver["spec"]["template"]["spec"]["containers"][0]
    manager_args = manager["spec"]["template"]["spec"]["containers"][0]["command"]
    assert container["image"] == "k8s.gcr.io/hyperkube:v1.5.0"
    assert container["command"][:2] == ["/usr/local/bin/hyperkube", "federation-apiserver"]
    assert "--token-auth-file=/srv/kubernetes/known-tokens.csv" in container["command"]
    assert service["spec"]["type"] == "LoadBalancer"
    assert "--federation-name=myfederation" in manager_args
    assert "--zone-name=myfederation.example" in manager_args
    assert apiserver["metadata"]["labels"][OWNER] == "myfederation"
    assert host.get_object("v1", "PersistentVolumeClaim", "federation-apiserver-etcd-claim", "federation") is not None

    clusters_listed = kubectl("--context=federation-cluster", "get", "clusters", "-o", "json", env=clusters.env())
    assert clusters_listed.returncode == 0, clusters_listed.explain()
    registered = {item["metadata"]["name"]: item for item in json.loads(clusters_listed.stdout)["items"]}
    assert sorted(registered) == sorted(members)
    for item in registered.values():
        conditions = {condition["type"]: condition["status"] for condition in item.get("status", {}).get("conditions", [])}
        assert conditions.get("Ready") == "True", item

    config = yaml.safe_load(clusters.kubeconfig.read_text())
    federation_cluster = next(entry for entry in config["clusters"] if entry["name"] == "federation-cluster")
    assert config["current-context"] == clusters.host
    assert "certificate-authority-data" in federation_cluster["cluster"]
    assert "insecure-skip-tls-verify" not in federation_cluster["cluster"]
    assert {"federation-cluster", "federation-cluster-basic-auth"} <= {user["name"] for user in config["users"]}


def test_second_run_converges_with_same_token(clusters):
    env = clusters.env(**DOCS_ENV)
    first = run(FEDERATION_UP, env=env)
    assert first.returncode == 0, first.explain()
    token = token_of(clusters)

    second = run(FEDERATION_UP, env=env)

    assert second.returncode == 0, second.explain()
    assert "AlreadyExists" not in second.output
    assert "reused CA, serving certificate, token, password" in second.stderr
    assert token_of(clusters) == token


def token_of(clusters) -> str:
    config = yaml.safe_load(clusters.kubeconfig.read_text())
    return next(user["user"]["token"] for user in config["users"] if user["name"] == "federation-cluster")


def test_down_leaves_nothing(clusters):
    store_member_kubeconfigs(clusters)
    env = clusters.env(**DOCS_ENV)
    up = run(FEDERATION_UP, env=env)
    assert up.returncode == 0, up.explain()

    down = run(FEDERATION_DOWN, env={**clusters.env(), "FEDERATION_NAME": "myfederation", "FEDERATION_WAIT_TIMEOUT": "60"})

    assert down.returncode == 0, down.explain()
    for context in [clusters.host, *clusters.members]:
        assert owned(clusters, context, "myfederation") == [], context
    config = yaml.safe_load(clusters.kubeconfig.read_text())
    assert "federation-cluster" not in {entry["name"] for entry in config["contexts"]}
    assert not {"federation-cluster", "federation-cluster-basic-auth"} & {user["name"] for user in config["users"]}
    assert "federation-cluster" not in {entry["name"] for entry in config["clusters"]}

    again = run(FEDERATION_DOWN, env={**clusters.env(), "FEDERATION_NAME": "myfederation"})
    assert again.returncode == 0, again.explain()
    assert "Nothing to remove" in again.stderr


def test_down_needs_no_image_settings(clusters):
    result = run(FEDERATION_DOWN, env=clusters.env(KUBERNETES_PROVIDER="gce"))
    assert result.returncode == 0, result.explain()
    assert "FEDERATION_PUSH_REPO_BASE" not in result.output


def test_dry_run_changes_nothing(clusters):
    result = run(FEDERATION_UP, "--dry-run", "-o", "json", env=clusters.env(**DOCS_ENV))

    assert result.returncode == 0, result.explain()
    plan = json.loads(result.stdout)
    steps = [step["name"] for step in plan["steps"]]
    actions = {change["target"]: change["action"] for step in plan["steps"] for change in step["changes"]}
    assert steps == ["preflight", "service", "credentials", "storage", "control-plane", "kubeconfig", "wait"]
    assert actions['Deployment "federation/federation-apiserver"'] == "create"
    assert clusters.cluster(clusters.host).get_object("v1", "Namespace", "federation") is None


def test_use_kubefed_path(clusters):
    env = clusters.env(
        USE_KUBEFED="true",
        KUBE_REGISTRY="k8s.gcr.io",
        KUBERNETES_RELEASE="v1.8.0+abc",
        FEDERATION_CLUSTERS=",".join(clusters.members),
        FEDERATION_WAIT_TIMEOUT="60",
    )

    result = run(FEDERATION_UP, env=env)

    assert result.returncode == 0, result.explain()
    assert f"Deploying federation control plane for e2e-federation in cluster {clusters.host}" in result.stderr
    assert 'Image: "k8s.gcr.io/hyperkube-amd64:v1.8.0_abc"' in result.stderr
    for context in clusters.members:
        assert f"Joining cluster with name '{context}' to federation with name 'e2e-federation'" in result.stderr
    host = clusters.cluster(clusters.host)
    manager = host.get_object("apps/v1", "Deployment", "e2e-federation-controller-manager", "federation-system")
    assert manager["metadata"]["annotations"]["federations"] == "e2e-federation=federation.example"
    assert host.get_object("v1", "Secret", "e2e-federation-apiserver-credentials", "federation-system") is not None
    assert host.get_object("v1", "PersistentVolumeClaim", "e2e-federation-apiserver-etcd-claim", "federation-system") is None
    listed = kubectl("--context=e2e-federation", "get", "clusters", env=clusters.env())
    assert listed.returncode == 0, listed.explain()

    down = run(FEDERATION_DOWN, env=env)
    assert down.returncode == 0, down.explain()
    for context in [clusters.host, *clusters.members]:
        assert owned(clusters, context, "e2e-federation") == [], context


def test_bad_variable_writes_nothing(clusters):
    before = clusters.kubeconfig.read_text()

    result = run(FEDERATION_UP, env=clusters.env(**{**DOCS_ENV, "FEDERATION_SERVICE_CIDR": "10.10.0.1/33"}))

    assert result.returncode == 3, result.explain()
    assert "FEDERATION_SERVICE_CIDR='10.10.0.1/33'" in result.stderr
    assert "Traceback" not in result.stderr
    assert clusters.kubeconfig.read_text() == before
    assert clusters.cluster(clusters.host).get_object("v1", "Namespace", "federation") is None


@pytest.mark.parametrize("cluster_options", [{"load_balancer": False}])
def test_load_balancer_without_address_names_node_port(clusters):
    result = run(FEDERATION_UP, env=clusters.env(**{**DOCS_ENV, "FEDERATION_WAIT_TIMEOUT": "3"}))

    assert result.returncode == 5, result.explain()
    assert "Could not find ingress hostname for federation-apiserver loadbalancer service" in result.stderr
    assert "KUBERNETES_PROVIDER=kind" in result.stderr


@pytest.mark.parametrize("cluster_options", [{"load_balancer": False}])
def test_kind_provider_uses_node_port(clusters):
    env = clusters.env(**{**DOCS_ENV, "KUBERNETES_PROVIDER": "kind", "FEDERATION_CLUSTERS": clusters.members[0]})

    result = run(FEDERATION_UP, env=env)

    assert result.returncode == 0, result.explain()
    service = clusters.cluster(clusters.host).get_object("v1", "Service", "federation-apiserver", "federation")
    assert service["spec"]["type"] == "NodePort"
    assert service["spec"]["ports"][0]["nodePort"] == 32111
    listed = kubectl("--context=federation-cluster", "get", "clusters", env=clusters.env())
    assert listed.returncode == 0, listed.explain()


def test_missing_default_storage_class_fails_first(clusters):
    clusters.cluster(clusters.host).set_default_storage_class(False)

    result = run(FEDERATION_UP, env=clusters.env(**DOCS_ENV))

    assert result.returncode == 4, result.explain()
    assert "no default StorageClass" in result.stderr
    assert "FEDERATION_USE_PV_FOR_ETCD=false" in result.stderr
    assert clusters.cluster(clusters.host).get_object("v1", "Namespace", "federation") is None


def test_host_context_argument(clusters):
    env = clusters.env(**DOCS_ENV)
    switched = kubectl("config", "use-context", clusters.members[0], env=env)
    assert switched.returncode == 0, switched.explain()

    result = run(FEDERATION_UP, clusters.host, env=env)

    assert result.returncode == 0, result.explain()
    assert f"Host cluster context {clusters.host} (argument)" in result.stderr
    assert clusters.cluster(clusters.host).get_object("apps/v1", "Deployment", "federation-apiserver", "federation") is not None


def test_coredns_provider_config_mounted(clusters, tmp_path):
    conf = tmp_path / "coredns-provider.conf"
    conf.write_text("[Global]\netcd-endpoints = http://127.0.0.1:2379\nzones = myfederation.example.\ncoredns-endpoints = 127.0.0.1:53\n")
    env = clusters.env(**{**DOCS_ENV, "FEDERATION_DNS_PROVIDER": "coredns", "FEDERATION_DNS_PROVIDER_CONFIG": str(conf), "FEDERATION_CLUSTERS": clusters.members[0]})

    result = run(FEDERATION_UP, env=env)

    assert result.returncode == 0, result.explain()
    host = clusters.cluster(clusters.host)
    manager = host.get_object("apps/v1", "Deployment", "federation-controller-manager", "federation")
    args = manager["spec"]["template"]["spec"]["containers"][0]["command"]
    assert "--dns-provider=coredns" in args
    assert "--dns-provider-config=/etc/federation/dns-provider/federation-dns-provider.conf" in args
    assert host.get_object("v1", "Secret", "federation-dns-provider.conf", "federation") is not None


def test_stuck_apiserver_pod_reported(clusters, tmp_path):
    unbindable = tmp_path / "claim.yaml"
    unbindable.write_text(
        "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: federation\n---\n"
        "apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata:\n  name: federation-apiserver-etcd-claim\n  namespace: federation\n"
        "spec:\n  storageClassName: no-such-class\n  accessModes: [ReadWriteOnce]\n  resources:\n    requests:\n      storage: 10Gi\n"
    )
    created = kubectl(f"--context={clusters.host}", "apply", "-f", str(unbindable), env=clusters.env())
    assert created.returncode == 0, created.explain()

    result = run(FEDERATION_UP, env=clusters.env(**{**DOCS_ENV, "FEDERATION_WAIT_TIMEOUT": "3"}))

    assert result.returncode == 5, result.explain()
    assert "Waiting for federation-apiserver to be running...(phase= Pending)" in result.stderr
    assert "federation-apiserver pod is not running! giving up." in result.stderr
    assert "phase Pending" in result.stderr


def test_use_kubefed_down_without_member_contexts(clusters):
    env = clusters.env(
        USE_KUBEFED="true",
        KUBE_REGISTRY="k8s.gcr.io",
        KUBERNETES_RELEASE="v1.8.0+abc",
        FEDERATION_CLUSTERS=",".join(clusters.members),
        FEDERATION_WAIT_TIMEOUT="60",
    )
    up = run(FEDERATION_UP, env=env)
    assert up.returncode == 0, up.explain()

    # Without FEDERATION_CLUSTERS the members are found through their registered server addresses.
    down = run(FEDERATION_DOWN, env={key: value for key, value in env.items() if key != "FEDERATION_CLUSTERS"})

    assert down.returncode == 0, down.explain()
    assert "401" not in down.stderr
    for context in [clusters.host, *clusters.members]:
        assert owned(clusters, context, "e2e-federation") == [], context
