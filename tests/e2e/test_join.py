"""kubefed join and unjoin against a deployed federation control plane."""

from __future__ import annotations

import json

import pytest

from tests.e2e.scripts import DEPLOY, KUBEFED, kubectl, run

NAMESPACE = "federation"  # deploy.sh deploys the control plane here
API_CONTEXT = "federation-cluster"
LABEL = "federation.k8s.io/federation-name=federation"


@pytest.fixture
def federation(clusters, tmp_path):
    """Deploy the control plane with deploy.sh and return the environment for kubefed runs."""
    env = clusters.env(FEDERATION_OUTPUT_ROOT=str(tmp_path / "output"), FEDERATION_HOST_CLUSTER_CONTEXT=clusters.host, KUBERNETES_PROVIDER="kind")
    for action in ("init", "deploy_federation"):
        result = run(DEPLOY, action, env=env)
        assert result.returncode == 0, result.explain()
    return env


def kubefed(clusters, env, command, name, *flags):
    return run(KUBEFED, command, name, f"--host-cluster-context={clusters.host}", f"--federation-system-namespace={NAMESPACE}", "--timeout=60", *flags, env=env)


def get_json(env, context, *args):
    result = kubectl("get", *args, "-o", "json", f"--context={context}", env=env)
    assert result.returncode == 0, result.explain()
    return json.loads(result.stdout)


def exists(env, context, *args) -> bool:
    result = kubectl("get", *args, f"--context={context}", "--ignore-not-found", "-o", "name", env=env)
    assert result.returncode == 0, result.explain()
    return bool(result.stdout.strip())


def corefile(env, context) -> str:
    return get_json(env, context, "configmap", "coredns", "-n", "kube-system")["data"]["Corefile"]


def ready(cluster: dict) -> str:
    conditions = (cluster.get("status") or {}).get("conditions") or []
    return next((condition["status"] for condition in conditions if condition["type"] == "Ready"), "missing")


def test_join_two_members_ready(clusters, federation):
    first, second = clusters.members
    original = corefile(federation, first)

    joined_first = kubefed(clusters, federation, "join", first)
    joined_second = kubefed(clusters, federation, "join", second)

    assert joined_first.returncode == 0, joined_first.explain()
    assert joined_second.returncode == 0, joined_second.explain()
    assert 'using cluster name "admin-kind-member2-eu-' in joined_second.stderr
    registered = {item["metadata"]["name"]: item for item in get_json(federation, API_CONTEXT, "clusters")["items"]}
    assert first in registered
    assert ready(registered[first]) == "True"
    second_name = next(name for name in registered if name.startswith("admin-kind-member2-eu-"))
    assert ready(registered[second_name]) == "True"
    table = kubectl("get", "clusters", f"--context={API_CONTEXT}", env=federation)
    assert table.returncode == 0, table.explain()
    assert first in table.stdout

    again = kubefed(clusters, federation, "join", first)
    assert again.returncode == 0, again.explain()
    joined_corefile = corefile(federation, first)
    assert joined_corefile.count("# BEGIN federation federation") == 1
    assert joined_corefile.count("# END federation federation") == 1
    assert "federation.example:53 {" in joined_corefile

    removed = kubefed(clusters, federation, "unjoin", first)
    assert removed.returncode == 0, removed.explain()
    assert f'Successfully removed cluster "{first}" from federation' in removed.stderr
    assert corefile(federation, first) == original
    assert not exists(federation, API_CONTEXT, "cluster", first)
    assert not exists(federation, clusters.host, "secret", first, "-n", NAMESPACE)
    assert not exists(federation, first, "configmap", "coredns-federation-backup-federation", "-n", "kube-system")


def test_join_kube_dns_keeps_other_keys(clusters, federation, tmp_path):
    member = clusters.members[1]
    manifest = tmp_path / "kube-dns.json"
    manifest.write_text(json.dumps({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "kube-dns", "namespace": "kube-system"},
        "data": {"stubDomains": '{"acme.local": ["10.1.2.3"]}', "federations": "other=other.example"},
    }))
    created = kubectl("apply", "-f", str(manifest), f"--context={member}", env=federation)
    assert created.returncode == 0, created.explain()

    joined = kubefed(clusters, federation, "join", member)
    data = get_json(federation, member, "configmap", "kube-dns", "-n", "kube-system")["data"]

    assert joined.returncode == 0, joined.explain()
    assert data["federations"] == "other=other.example,federation=federation.example"
    assert data["stubDomains"] == '{"acme.local": ["10.1.2.3"]}'

    removed = kubefed(clusters, federation, "unjoin", member)
    data = get_json(federation, member, "configmap", "kube-dns", "-n", "kube-system")["data"]

    assert removed.returncode == 0, removed.explain()
    assert data == {"stubDomains": '{"acme.local": ["10.1.2.3"]}', "federations": "other=other.example"}


def test_join_kube_dns_creates_and_removes_configmap(clusters, federation):
    member = clusters.members[1]

    joined = kubefed(clusters, federation, "join", member)
    data = get_json(federation, member, "configmap", "kube-dns", "-n", "kube-system")["data"]

    assert joined.returncode == 0, joined.explain()
    assert data == {"federations": "federation=federation.example"}

    removed = kubefed(clusters, federation, "unjoin", member)

    assert removed.returncode == 0, removed.explain()
    assert not exists(federation, member, "configmap", "kube-dns", "-n", "kube-system")


def test_join_unreachable_member_leaves_nothing(clusters, federation):
    member = clusters.members[0]
    config = json.loads(kubectl("config", "view", "--raw", "-o", "json", env=federation).stdout)
    context = next(item for item in config["contexts"] if item["name"] == member)["context"]
    user = context["user"]
    for args in (
        ("config", "set-cluster", "dead", "--server=https://127.0.0.1:1", "--insecure-skip-tls-verify=true"),
        ("config", "set-context", "dead-member", "--cluster=dead", f"--user={user}"),
    ):
        result = kubectl(*args, env=federation)
        assert result.returncode == 0, result.explain()
    before = corefile(federation, member)

    joined = kubefed(clusters, federation, "join", "dead-member")

    assert joined.returncode == 4, joined.explain()
    assert "https://127.0.0.1:1" in joined.stderr
    assert not exists(federation, API_CONTEXT, "cluster", "dead-member")
    assert not exists(federation, clusters.host, "secret", "dead-member", "-n", NAMESPACE)
    assert get_json(federation, API_CONTEXT, "clusters")["items"] == []
    assert corefile(federation, member) == before


def test_join_serviceaccount_credentials(clusters, federation):
    member = clusters.members[0]

    joined = kubefed(clusters, federation, "join", member, "--credentials=serviceaccount")
    account = f"{member}-{clusters.host}"
    role = f"federation-controller-manager:federation-{member}-{clusters.host}"

    assert joined.returncode == 0, joined.explain()
    registered = get_json(federation, API_CONTEXT, "cluster", member)
    assert ready(registered) == "True"
    assert registered["metadata"]["annotations"]["federation.kubernetes.io/servive-account-name"] == account
    labelled = get_json(federation, member, "serviceaccount,secret", "-n", NAMESPACE, "-l", LABEL)["items"]
    assert sorted(item["metadata"]["name"] for item in labelled) == sorted([account, f"{account}-token"])
    assert exists(federation, member, "clusterrole", role)
    assert exists(federation, member, "clusterrolebinding", role)

    removed = kubefed(clusters, federation, "unjoin", member)

    assert removed.returncode == 0, removed.explain()
    assert not exists(federation, member, "clusterrole", role)
    assert not exists(federation, member, "clusterrolebinding", role)
    assert not exists(federation, member, "namespace", NAMESPACE)


def test_unjoin_force_with_member_gone(clusters, federation):
    member = clusters.members[1]
    joined = kubefed(clusters, federation, "join", member, "--secret-name=member2")
    assert joined.returncode == 0, joined.explain()
    name = json.loads(kubectl("get", "clusters", f"--context={API_CONTEXT}", "-o", "json", env=federation).stdout)["items"][0]["metadata"]["name"]
    for args in (
        ("config", "set-cluster", "gone", "--server=https://127.0.0.1:1", "--insecure-skip-tls-verify=true"),
        ("config", "set-context", "gone-member", "--cluster=gone", "--user=nobody"),
    ):
        assert kubectl(*args, env=federation).returncode == 0

    refused = kubefed(clusters, federation, "unjoin", name, "--cluster-context=gone-member")
    forced = kubefed(clusters, federation, "unjoin", name, "--cluster-context=gone-member", "--force")

    assert refused.returncode == 4, refused.explain()
    assert "--force" in refused.stderr
    assert forced.returncode == 0, forced.explain()
    assert "could not be reached" in forced.stderr
    assert "so these stay in it" in forced.stderr
    assert not exists(federation, API_CONTEXT, "cluster", name)
    assert not exists(federation, clusters.host, "secret", "member2", "-n", NAMESPACE)


def test_unjoin_missing_parts_are_notes(clusters, federation):
    member = clusters.members[0]

    removed = kubefed(clusters, federation, "unjoin", member)

    assert removed.returncode == 0, removed.explain()
    assert "was already gone" in removed.stderr
    assert f'Successfully removed cluster "{member}" from federation' in removed.stderr


def test_join_dry_run_changes_nothing(clusters, federation):
    member = clusters.members[0]
    before = corefile(federation, member)

    planned = kubefed(clusters, federation, "join", member, "--dry-run", "-o", "json")

    assert planned.returncode == 0, planned.explain()
    plan = json.loads(planned.stdout)
    actions = {change["target"]: change["action"] for change in plan["steps"][0]["changes"]}
    assert actions[f'Cluster "{member}"'] == "create"
    assert actions['ConfigMap "kube-system/coredns"'] == "update"
    assert get_json(federation, API_CONTEXT, "clusters")["items"] == []
    assert not exists(federation, clusters.host, "secret", member, "-n", NAMESPACE)
    assert corefile(federation, member) == before


def test_join_without_federation_names_fix(clusters, tmp_path):
    env = clusters.env()

    joined = run(KUBEFED, "join", clusters.members[0], f"--host-cluster-context={clusters.host}", f"--context={clusters.host}", env=env)

    assert joined.returncode == 4, joined.explain()
    assert "--federation-name is not set" in joined.stderr
    assert "deploy the federation control plane first" in joined.stderr


def leftovers(env, context) -> list[str]:
    """Return every object of this federation in ``context`` that a join leaves, as kind/name."""
    kinds = "namespaces,serviceaccounts,secrets,configmaps,clusterroles,clusterrolebindings"
    listed = get_json(env, context, kinds, "-A", "-l", LABEL)["items"]
    return [f"{item['kind']}/{item['metadata']['name']}" for item in listed if item["metadata"].get("deletionTimestamp") is None]


def add_context(env, name, cluster, user, server=None):
    """Write kubeconfig context ``name`` for ``cluster`` and ``user``, optionally as a copy of the cluster with another server."""
    if server is not None:
        config = json.loads(kubectl("config", "view", "--raw", "-o", "json", env=env).stdout)
        entry = next(item for item in config["clusters"] if item["name"] == cluster)["cluster"]
        copy = f"{name}-cluster"
        for args in (
            ("config", "set-cluster", copy, f"--server={server}"),
            ("config", "set", f"clusters.{copy}.certificate-authority-data", entry["certificate-authority-data"]),
        ):
            result = kubectl(*args, env=env)
            assert result.returncode == 0, result.explain()
        cluster = copy
    result = kubectl("config", "set-context", name, f"--cluster={cluster}", f"--user={user}", env=env)
    assert result.returncode == 0, result.explain()


def context_entry(env, context) -> dict:
    config = json.loads(kubectl("config", "view", "--raw", "-o", "json", env=env).stdout)
    return next(item for item in config["contexts"] if item["name"] == context)["context"]


def test_unjoin_finds_context_by_server(clusters, federation):
    member = clusters.members[0]
    original = corefile(federation, member)
    joined = kubefed(clusters, federation, "join", "renamed", f"--cluster-context={member}", "--credentials=serviceaccount")
    assert joined.returncode == 0, joined.explain()

    removed = kubefed(clusters, federation, "unjoin", "renamed")

    assert removed.returncode == 0, removed.explain()
    assert f"using context {member!r} for cluster 'renamed'" in removed.stderr
    assert leftovers(federation, member) == []
    assert corefile(federation, member) == original
    assert not exists(federation, API_CONTEXT, "cluster", "renamed")


def test_unjoin_with_stored_token_only(clusters, federation):
    member = clusters.members[0]
    entry = context_entry(federation, member)
    server = json.loads(kubectl("config", "view", "--raw", "-o", "json", env=federation).stdout)
    address = next(item for item in server["clusters"] if item["name"] == entry["cluster"])["cluster"]["server"]
    # Same API server under another host name, so no remaining context matches the registered address.
    add_context(federation, "temporary", entry["cluster"], entry["user"], server=address.replace("127.0.0.1", "localhost"))
    original = corefile(federation, member)
    joined = kubefed(clusters, federation, "join", "stored", "--cluster-context=temporary", "--credentials=serviceaccount")
    assert joined.returncode == 0, joined.explain()
    assert kubectl("config", "delete-context", "temporary", env=federation).returncode == 0

    removed = kubefed(clusters, federation, "unjoin", "stored")

    assert removed.returncode == 0, removed.explain()
    assert "using context" not in removed.stderr
    assert leftovers(federation, member) == []
    assert corefile(federation, member) == original


def test_unjoin_rerun_finds_leftovers_by_label(clusters, federation):
    member = clusters.members[0]
    original = corefile(federation, member)
    joined = kubefed(clusters, federation, "join", "partial", f"--cluster-context={member}", "--credentials=serviceaccount")
    assert joined.returncode == 0, joined.explain()
    # A partial unjoin: the registration is gone, so the ServiceAccount's name cannot be read from it.
    for args in (("delete", "cluster", "partial", f"--context={API_CONTEXT}"), ("delete", "secret", "partial", "-n", NAMESPACE, f"--context={clusters.host}")):
        assert kubectl(*args, env=federation).returncode == 0
    host = context_entry(federation, clusters.host)
    add_context(federation, "host-renamed", host["cluster"], host["user"])

    removed = kubefed(clusters, federation, "unjoin", "partial", "--host-cluster-context=host-renamed", f"--cluster-context={member}")

    assert removed.returncode == 0, removed.explain()
    assert leftovers(federation, member) == []
    assert corefile(federation, member) == original


def test_join_names_namespace_of_control_plane(clusters, federation):
    joined = run(KUBEFED, "join", clusters.members[0], f"--host-cluster-context={clusters.host}", f"--cluster-context={clusters.members[0]}", env=federation)

    assert joined.returncode == 4, joined.explain()
    assert "namespace 'federation-system'" in joined.stderr
    assert f"pass --federation-system-namespace={NAMESPACE}" in joined.stderr


def test_join_rejects_federation_context(clusters, federation):
    joined = kubefed(clusters, federation, "join", "self", f"--cluster-context={API_CONTEXT}")

    assert joined.returncode == 3, joined.explain()
    assert f"member context {API_CONTEXT!r} is the federation API server's context" in joined.stderr
    assert get_json(federation, API_CONTEXT, "clusters")["items"] == []


def test_join_rejects_negative_timeout(clusters):
    joined = run(KUBEFED, "join", clusters.members[0], f"--host-cluster-context={clusters.host}", "--timeout=-1", env=clusters.env())

    assert joined.returncode == 3, joined.explain()
    assert "--timeout='-1'" in joined.stderr
