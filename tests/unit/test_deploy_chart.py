"""deploy.sh settings and chart values."""

from __future__ import annotations

import pytest

from federation.core.environment import Environment
from federation.core.errors import InvalidInput, Locked
from federation.core.files import exclusive_lock
from federation.deploy import chart, settings
from federation.deploy.init import values_file_text


def load(tmp_path, text=None, provider="gce"):
    path = tmp_path / "values.yaml"
    if text is not None:
        path.write_text(text)
    return chart.load_values(path, provider)


def test_defaults_hold_every_original_key(tmp_path):
    values = load(tmp_path)

    for key in ("namespace", "apiserverName", "apiserverRegistry", "apiserverVersion", "apiserverServiceCIDR", "controllerManagerName", "controllerManagerRegistry",
                "controllerManagerVersion", "controllerManagerDNSProvider", "controllerManagerFederationName", "controllerManagerDNSZone"):
        assert key in values
    assert values["apiserverServiceType"] == "LoadBalancer"


def test_overrides_apply_key_by_key(tmp_path):
    values = load(tmp_path, "apiserverVersion: v1.5.0\n")

    assert values["apiserverVersion"] == "v1.5.0"
    assert values["controllerManagerVersion"] == "v1.4.2"


def test_kind_provider_defaults_to_node_port(tmp_path):
    assert load(tmp_path, provider="kind")["apiserverServiceType"] == "NodePort"


def test_generated_keys_are_ignored(tmp_path):
    values = load(tmp_path, "apiserverToken: leaked\n")

    assert "apiserverToken" not in values


@pytest.mark.parametrize("text,word", [
    ("namespace: Bad_Name\n", "namespace"),
    ("apiserverRegistry: GCR.io/x\n", "apiserverRegistry"),
    ("controllerManagerDNSZone: Example.COM\n", "controllerManagerDNSZone"),
    ("controllerManagerDNSProvider: route53x\n", "controllerManagerDNSProvider"),
    ("apiserverServiceType: ClusterIP\n", "apiserverServiceType"),
    ("apiserverNodePort: '80'\n", "apiserverNodePort"),
    ("etcdStorageSize: lots\n", "etcdStorageSize"),
    ("apiserverServiceCIDR: 10.0.0.0/99\n", "apiserverServiceCIDR"),
    ("namespace: [a, b]\n", "namespace"),
    ("- just\n- a list\n", "mapping"),
    ("namespace: 'unclosed\n", "line"),
])
def test_bad_values_name_key(tmp_path, text, word):
    with pytest.raises(InvalidInput) as error:
        load(tmp_path, text)

    assert word in error.value.message
    assert str(tmp_path / "values.yaml") in error.value.message


def test_written_values_file_parses_to_defaults(tmp_path):
    (tmp_path / "values.yaml").write_text(values_file_text())

    assert load(tmp_path) == load(tmp_path / "none")


def test_rendered_objects_carry_ownership_labels(tmp_path):
    values = load(tmp_path)

    objects = [chart.namespace(values), chart.service(values), chart.etcd_claim(values), *chart.deployments(values)]

    for obj in objects:
        assert obj["metadata"]["labels"]["app"] == "federated-cluster"
        assert obj["metadata"]["labels"]["federation.k8s.io/federation-name"] == "federation"


def test_empty_dir_storage_replaces_claim(tmp_path):
    values = load(tmp_path, "etcdStorage: emptyDir\n")

    apiserver, _ = chart.deployments(values)

    volumes = {volume["name"]: volume for volume in apiserver["spec"]["template"]["spec"]["volumes"]}
    assert volumes["etcddata"] == {"name": "etcddata", "emptyDir": {}}


def test_output_root_required():
    with pytest.raises(InvalidInput) as error:
        settings.load(Environment({}))

    assert "FEDERATION_OUTPUT_ROOT" in error.value.message


def test_unknown_provider_lists_accepted(tmp_path):
    with pytest.raises(InvalidInput) as error:
        settings.load(Environment({"FEDERATION_OUTPUT_ROOT": str(tmp_path), "KUBERNETES_PROVIDER": "azure"}))

    assert "gce, gke, aws, kind, local, vagrant" in error.value.message


def test_kube_config_wins_over_kubeconfig(tmp_path):
    loaded = settings.load(Environment({"FEDERATION_OUTPUT_ROOT": str(tmp_path), "KUBE_CONFIG": "/a/config", "KUBECONFIG": "/b/config"}))

    assert [str(path) for path in loaded.kubeconfig_paths] == ["/a/config"]


def test_members_split_on_commas_and_spaces(tmp_path):
    loaded = settings.load(Environment({"FEDERATION_OUTPUT_ROOT": str(tmp_path), "FEDERATION_CLUSTERS": "a, b c"}))

    assert loaded.member_contexts == ["a", "b", "c"]


def test_second_lock_holder_is_refused(tmp_path):
    with exclusive_lock(tmp_path / ".deploy", "FEDERATION_OUTPUT_ROOT"):
        with pytest.raises(Locked) as error:
            with exclusive_lock(tmp_path / ".deploy", "FEDERATION_OUTPUT_ROOT"):
                pass

    assert "another run" in error.value.message


@pytest.mark.parametrize("text,expected", [("apiserverVersion: 1.10\n", "1.10"), ("apiserverVersion: 0o17\n", "0o17"), ("apiserverVersion: v1.4\n", "v1.4")])
def test_unquoted_versions_keep_their_text(tmp_path, text, expected):
    assert load(tmp_path, text)["apiserverVersion"] == expected


def test_null_value_means_default_empty(tmp_path):
    assert load(tmp_path, "etcdStorageClass: null\n")["etcdStorageClass"] == ""
