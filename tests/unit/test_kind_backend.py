"""The kind backend's own logic: names, ownership, networks, kubeconfig merge, skip reasons, selection."""

from __future__ import annotations

import ipaddress
import itertools
from pathlib import Path
from types import SimpleNamespace

import pytest

from federation.core.registration.endpoint import reachable_server
from federation.core.registration.model import Member
from tests.e2e import kind_support
from tests.e2e.conftest import selected_backends
from tests.e2e.kind_support import ContextPlan, Networks, Probe

NODE_IMAGE = "kindest/node:v1.37.0@sha256:" + "a" * 64
ROOT = Path(__file__).resolve().parents[2]


# -- names and ownership ------------------------------------------------------


def test_cluster_names_carry_run_prefix():
    names = kind_support.cluster_names("1a2b3c")

    assert names == {"host": "fe2e-1a2b3c-host", "member1": "fe2e-1a2b3c-member1", "member2": "fe2e-1a2b3c-member2"}


def test_cluster_names_fit_kind_and_dns():
    for name in kind_support.cluster_names("abcdef123456").values():
        # kind accepts ^[a-z0-9.-]+$; the control-plane container adds "-control-plane" to a DNS label.
        assert len(f"{name}-control-plane") <= 63, name
        assert name == name.lower()


@pytest.mark.parametrize("run_id", ["", "ABC123", "a-b", "x" * 13, "../x"])
def test_cluster_names_reject_bad_run_id(run_id):
    with pytest.raises(ValueError, match="run id"):
        kind_support.cluster_names(run_id)


def test_kind_context_is_kind_prefixed():
    assert kind_support.kind_context("fe2e-1a2b3c-host") == "kind-fe2e-1a2b3c-host"


def test_owned_needs_marker_and_prefix(tmp_path):
    name = "fe2e-1a2b3c-host"
    kind_support.marker_path(tmp_path, name).write_text(kind_support.marker_text("1a2b3c", name))

    assert kind_support.is_owned(name, "1a2b3c", tmp_path)


def test_not_owned_without_marker(tmp_path):
    assert not kind_support.is_owned("fe2e-1a2b3c-host", "1a2b3c", tmp_path)


def test_not_owned_by_other_run(tmp_path):
    name = "fe2e-1a2b3c-host"
    kind_support.marker_path(tmp_path, name).write_text(kind_support.marker_text("1a2b3c", name))

    assert not kind_support.is_owned(name, "ffffff", tmp_path)


def test_not_owned_with_foreign_name_and_copied_marker(tmp_path):
    # A marker naming this run does not make a cluster without the run's prefix deletable.
    kind_support.marker_path(tmp_path, "kind").write_text(kind_support.marker_text("1a2b3c", "kind"))

    assert not kind_support.is_owned("kind", "1a2b3c", tmp_path)


def test_not_owned_with_marker_for_other_cluster(tmp_path):
    name = "fe2e-1a2b3c-member1"
    kind_support.marker_path(tmp_path, name).write_text(kind_support.marker_text("1a2b3c", "fe2e-1a2b3c-host"))

    assert not kind_support.is_owned(name, "1a2b3c", tmp_path)


def test_name_conflicts_lists_existing():
    names = list(kind_support.cluster_names("1a2b3c").values())

    assert kind_support.name_conflicts(names, ["kind", "fe2e-1a2b3c-member1"]) == ["fe2e-1a2b3c-member1"]
    assert kind_support.name_conflicts(names, ["kind", "fe2e-ffffff-host"]) == []


# -- networks -----------------------------------------------------------------


def test_networks_are_distinct_and_disjoint():
    networks = kind_support.allocate_networks()
    subnets = [ipaddress.ip_network(value) for item in networks.values() for value in (item.pod_subnet, item.service_subnet)]

    assert set(networks) == set(kind_support.ROLES)
    for first, second in itertools.combinations(subnets, 2):
        assert not first.overlaps(second), f"{first} overlaps {second}"


def test_networks_avoid_given_ranges():
    networks = kind_support.allocate_networks(avoid=("10.240.0.0/15", "10.96.0.0/16"))

    assert networks["host"] == Networks("10.242.0.0/16", "10.97.0.0/16")
    assert networks["member2"] == Networks("10.244.0.0/16", "10.99.0.0/16")


def test_networks_exhausted_raise():
    with pytest.raises(ValueError, match="fewer than 3 free /16 subnets"):
        kind_support.allocate_subnets("10.0.0.0/15", 3)


def test_kind_config_sets_networks_and_run_label():
    config = kind_support.kind_config(Networks("10.240.0.0/16", "10.96.0.0/16"), "1a2b3c")

    assert config["apiVersion"] == "kind.x-k8s.io/v1alpha4"
    assert config["networking"] == {"podSubnet": "10.240.0.0/16", "serviceSubnet": "10.96.0.0/16"}
    assert config["nodes"] == [{"role": "control-plane", "labels": {"federation-e2e.k8s.io/run": "1a2b3c"}}]


# -- kubeconfig ---------------------------------------------------------------


def kind_kubeconfig(name: str, port: int) -> dict:
    """Return a kubeconfig as kind writes it for one cluster."""
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": f"kind-{name}", "cluster": {"server": f"https://127.0.0.1:{port}", "certificate-authority-data": "Q0E="}}],
        "users": [{"name": f"kind-{name}", "user": {"client-certificate-data": "Q0VSVA==", "client-key-data": "S0VZ"}}],
        "contexts": [{"name": f"kind-{name}", "context": {"cluster": f"kind-{name}", "user": f"kind-{name}"}}],
        "current-context": f"kind-{name}",
    }


def test_merge_renames_context_and_replaces_server():
    plans = [
        ContextPlan(kind_kubeconfig("fe2e-1-host", 40001), "kind-fe2e-1-host"),
        ContextPlan(kind_kubeconfig("fe2e-1-member2", 40003), "admin@kind:member2/eu", "https://172.18.0.4:6443"),
    ]

    merged = kind_support.merge_kubeconfigs(plans, current_context="kind-fe2e-1-host")

    contexts = {item["name"]: item["context"] for item in merged["contexts"]}
    servers = {item["name"]: item["cluster"]["server"] for item in merged["clusters"]}
    assert merged["current-context"] == "kind-fe2e-1-host"
    assert contexts["admin@kind:member2/eu"] == {"cluster": "kind-fe2e-1-member2", "user": "kind-fe2e-1-member2"}
    assert servers == {"kind-fe2e-1-host": "https://127.0.0.1:40001", "kind-fe2e-1-member2": "https://172.18.0.4:6443"}
    assert [item["name"] for item in merged["users"]] == ["kind-fe2e-1-host", "kind-fe2e-1-member2"]


def test_merge_leaves_inputs_unchanged():
    document = kind_kubeconfig("fe2e-1-member2", 40003)

    kind_support.merge_kubeconfigs([ContextPlan(document, "m2", "https://172.18.0.4:6443")], current_context="m2")

    assert document["clusters"][0]["cluster"]["server"] == "https://127.0.0.1:40003"


def test_merge_rejects_duplicate_context():
    plans = [ContextPlan(kind_kubeconfig("a", 1), "same"), ContextPlan(kind_kubeconfig("b", 2), "same")]

    with pytest.raises(ValueError, match="planned twice"):
        kind_support.merge_kubeconfigs(plans, current_context="same")


def test_merge_rejects_unknown_current_context():
    with pytest.raises(ValueError, match="current context"):
        kind_support.merge_kubeconfigs([ContextPlan(kind_kubeconfig("a", 1), "kind-a")], current_context="kind-b")


def test_merge_rejects_many_contexts():
    document = kind_kubeconfig("a", 1)
    document["contexts"].append({"name": "other", "context": {"cluster": "kind-a", "user": "kind-a"}})

    with pytest.raises(ValueError, match="exactly one context"):
        kind_support.merge_kubeconfigs([ContextPlan(document, "kind-a")], current_context="kind-a")


def test_container_server_brackets_ipv6():
    assert kind_support.container_server("172.18.0.3") == "https://172.18.0.3:6443"
    assert kind_support.container_server("fc00:f853:ccd:e793::3") == "https://[fc00:f853:ccd:e793::3]:6443"


# -- endpoint rewrite with the backend's contexts -----------------------------


def member(context: str, server: str) -> Member:
    kubeconfig = {"clusters": [{"name": context, "cluster": {"server": server}}], "contexts": [{"name": context, "context": {"cluster": context}}]}
    return Member(name="member", kubeconfig=kubeconfig, context=context)


def test_rewrite_finds_container_from_run_context():
    asked = []

    def inspect(container):
        asked.append(container)
        return ["172.18.0.3"]

    server = reachable_server(member("kind-fe2e-1a2b3c-member1", "https://127.0.0.1:40002"), "kind", inspect)

    assert server == "https://172.18.0.3:6443"
    assert asked == ["fe2e-1a2b3c-member1-control-plane"]


def test_container_address_member_not_rewritten():
    def inspect(container):
        raise AssertionError(f"no docker inspect expected, got {container}")

    server = reachable_server(member(kind_support.MEMBER2_CONTEXT, "https://172.18.0.4:6443"), "kind", inspect)

    assert server == "https://172.18.0.4:6443"


# -- images -------------------------------------------------------------------


def test_image_list_splits_commas_and_spaces():
    images = kind_support.parse_image_list(" registry.local/fed/hyperkube-amd64:v1.4.2, gcr.io/x/y@sha256:abc\n z:1 ")

    assert images == ["registry.local/fed/hyperkube-amd64:v1.4.2", "gcr.io/x/y@sha256:abc", "z:1"]


def test_image_list_empty():
    assert kind_support.parse_image_list("") == []


def test_image_list_rejects_junk():
    with pytest.raises(ValueError, match="FEDERATION_TEST_IMAGES entry '\\$\\(rm'"):
        kind_support.parse_image_list("good:1 $(rm")


# -- skip reasons -------------------------------------------------------------


def ready_probe(**changes) -> Probe:
    values = {"kind": "/usr/local/bin/kind", "kubectl": "/usr/bin/kubectl", "docker": "/usr/bin/docker", "image_present": True}
    values.update(changes)
    return Probe(**values)


def test_skip_reason_none_when_ready():
    assert kind_support.skip_reason(ready_probe(), NODE_IMAGE) is None


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"pytest_kind": False}, "pytest-kind-ng is not installed (pip install -e '.[kind]')"),
        ({"kind": None}, "kind binary not found in PATH"),
        ({"kind": None, "kind_source": "KIND=/opt/kind"}, "kind binary not found in KIND=/opt/kind"),
        ({"kubectl": None, "kubectl_source": "--kind-kubectl-bin=/x"}, "kubectl binary not found in --kind-kubectl-bin=/x"),
        ({"docker": None}, "docker binary not found in PATH"),
        ({"docker_error": "\nCannot connect to the Docker daemon at unix:///var/run/docker.sock.\n"}, "Docker is not reachable: Cannot connect to the Docker daemon"),
        ({"image_present": False}, f"node image {NODE_IMAGE} is not present (docker pull {NODE_IMAGE}); the tests never pull it"),
        ({"privileged_error": "docker: Error response from daemon: privileged mode is disabled."}, "privileged containers are not allowed here"),
    ],
)
def test_skip_reason_names_missing_piece(changes, expected):
    reason = kind_support.skip_reason(ready_probe(**changes), NODE_IMAGE)

    assert reason is not None
    assert reason.startswith("kind backend: ")
    assert expected in reason


def test_skip_reason_reports_first_missing_piece():
    reason = kind_support.skip_reason(ready_probe(kind=None, docker=None, image_present=False), NODE_IMAGE)

    assert "kind binary not found" in reason
    assert "docker" not in reason


def test_first_line_shortens():
    assert kind_support.first_line("\n\n  first  \nsecond") == "first"
    assert kind_support.first_line("") == "no output"
    assert len(kind_support.first_line("x" * 500)) == 200


# -- scenarios, logs and backend selection ------------------------------------


def test_kind_gap_ignores_parameters():
    assert "kube-dns" in kind_support.kind_gap("test_join_kube_dns_keeps_other_keys[kind]")
    assert kind_support.kind_gap("test_join_two_members_ready[kind]") is None


def test_kind_gaps_name_real_scenarios():
    sources = "".join(path.read_text() for path in (ROOT / "tests/e2e").glob("test_*.py"))

    for name in kind_support.KIND_GAPS:
        assert f"def {name}(" in sources, f"{name} is in KIND_GAPS but no scenario has that name"


def test_log_directory_is_safe_path(tmp_path):
    directory = kind_support.log_directory(tmp_path, "tests/e2e/test_join.py::test_join_two_members_ready[kind]")

    assert directory.parent == tmp_path
    assert directory.name == "tests_e2e_test_join.py_test_join_two_members_ready_kind"


def fake_config(backend: str, markexpr: str) -> SimpleNamespace:
    options = {"--backend": backend, "markexpr": markexpr}
    return SimpleNamespace(getoption=lambda name, default=None: options.get(name, default))


@pytest.mark.parametrize(
    ("backend", "markexpr", "expected"),
    [
        ("simulated", "", {"simulated"}),
        ("simulated", "not docker", {"simulated"}),
        ("simulated", "kind", {"simulated", "kind"}),
        ("simulated", "not kind", {"simulated", "kind"}),
        ("simulated", "kindly", {"simulated"}),
        ("kind", "", {"kind"}),
    ],
)
def test_selected_backends(backend, markexpr, expected):
    assert selected_backends(fake_config(backend, markexpr)) == expected


def test_pinned_versions_file():
    from tests.e2e.kind_backend import read_versions

    versions = read_versions()

    assert versions["KIND_VERSION"].startswith("v0.")
    assert versions["KIND_NODE_IMAGE"].startswith("kindest/node:v")
    assert "@sha256:" in versions["KIND_NODE_IMAGE"]
    assert len(versions["KIND_NODE_IMAGE"].split("@sha256:")[1]) == 64


# -- reset between tests, against kubesim's API server ------------------------


def test_baseline_restore_undoes_a_scenario(tmp_path):
    from kubesim import ClusterSpec, SimulatedClusters
    from tests.e2e.kind_backend import Baseline, KindClusterView

    kubeconfig = tmp_path / "config"
    with SimulatedClusters([ClusterSpec("member", context="kind-member")], kubeconfig):
        view = KindClusterView(kubeconfig, "kind-member")
        baseline = Baseline.record(view)
        corefile = view.get_object("v1", "ConfigMap", "coredns", "kube-system")
        view.api.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "federation"}})
        view.api.apply({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": "federation-test"}, "rules": []})
        view.api.apply({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "kube-dns", "namespace": "kube-system"}, "data": {"federations": "f=f.example"}})
        edited = dict(corefile)
        edited["data"] = {"Corefile": corefile["data"]["Corefile"] + "\n# edited\n"}
        view.api.replace(edited)
        view.set_default_storage_class(False)
        standard = view.get_object("storage.k8s.io/v1", "StorageClass", "standard")
        assert standard["metadata"]["annotations"]["storageclass.kubernetes.io/is-default-class"] == "false"

        baseline.restore(view)

        assert view.get_object("v1", "Namespace", "federation") is None
        assert view.get_object("rbac.authorization.k8s.io/v1", "ClusterRole", "federation-test") is None
        assert view.get_object("v1", "ConfigMap", "kube-dns", "kube-system") is None
        assert view.get_object("v1", "ConfigMap", "coredns", "kube-system")["data"] == corefile["data"]
        assert Baseline.record(view) == baseline
