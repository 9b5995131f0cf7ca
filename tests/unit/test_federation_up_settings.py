"""One test per federation-up.sh variable, on the settings and the object builders."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
import yaml

from federation.cluster import apiserver_credentials, controlplane, settings
from federation.cluster.apiserver_credentials import DIRECT_LAYOUT, ensure, server_sans
from federation.cluster.controlplane import Endpoint
from federation.core.environment import Environment
from federation.core.errors import InvalidInput

KUBECONFIG = {
    "apiVersion": "v1",
    "kind": "Config",
    "current-context": "federation-e2e-host",
    "clusters": [{"name": "host", "cluster": {"server": "https://127.0.0.1:6443"}}, {"name": "m1", "cluster": {"server": "https://127.0.0.2:6443"}}],
    "users": [{"name": "u", "user": {"token": "t"}}],
    "contexts": [
        {"name": "federation-e2e-host", "context": {"cluster": "host", "user": "u"}},
        {"name": "federation-e2e-gce-us-central1-b", "context": {"cluster": "host", "user": "u"}},
        {"name": "kind-member1", "context": {"cluster": "m1", "user": "u"}},
    ],
}


@pytest.fixture
def kubeconfig(tmp_path: Path) -> Path:
    path = tmp_path / "kube" / "config"
    path.parent.mkdir()
    path.write_text(yaml.safe_dump(KUBECONFIG))
    return path


@pytest.fixture
def no_gcloud(monkeypatch, tmp_path: Path) -> None:
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))


def load(kubeconfig: Path, host_argument: str = "", **values: str) -> settings.UpSettings:
    base = {"KUBECONFIG": str(kubeconfig), "FEDERATION_PUSH_REPO_BASE": "k8s.gcr.io", "FEDERATION_IMAGE_TAG": "v1.5.0"}
    return settings.load_up(Environment({**base, **values}), host_argument)


def rejected(kubeconfig: Path, **values: str) -> InvalidInput:
    with pytest.raises(InvalidInput) as caught:
        load(kubeconfig, **values)
    return caught.value


def credentials_for(config: settings.UpSettings):
    sans = server_sans("127.0.0.5", config.apiserver_name, config.namespace)
    creds, _ = ensure(None, None, DIRECT_LAYOUT, sans, config.apiserver_name, "admin")
    return creds


def objects(config: settings.UpSettings, dns_config: bytes | None = None) -> dict[str, dict]:
    creds = credentials_for(config)
    rendered = [controlplane.namespace(config), controlplane.service(config), *controlplane.storage(config)]
    rendered += controlplane.control_plane(config, creds, Endpoint("127.0.0.5", 443), dns_config)
    return {f"{obj['kind']}/{obj['metadata']['name']}": obj for obj in rendered}


def container_args(obj: dict, index: int = 0) -> list[str]:
    return obj["spec"]["template"]["spec"]["containers"][index]["command"]


# -- KUBERNETES_PROVIDER ------------------------------------------------------


def test_provider_gce_gives_load_balancer(kubeconfig):
    service = controlplane.service(load(kubeconfig, KUBERNETES_PROVIDER="gce"))
    assert service["spec"]["type"] == "LoadBalancer"


def test_provider_kind_gives_node_port(kubeconfig):
    service = controlplane.service(load(kubeconfig, KUBERNETES_PROVIDER="kind", FEDERATION_DNS_PROVIDER="google-clouddns"))
    assert service["spec"]["type"] == "NodePort"
    assert service["spec"]["ports"][0]["nodePort"] == 32111


def test_provider_unknown_names_accepted_values(kubeconfig):
    error = rejected(kubeconfig, KUBERNETES_PROVIDER="openstack")
    assert "KUBERNETES_PROVIDER='openstack'" in error.message
    assert "gce, gke, aws, vagrant, kind, local" in error.hint


# -- FEDERATION_DNS_PROVIDER and FEDERATION_DNS_PROVIDER_CONFIG -----------------


def test_dns_provider_defaults_on_gce(kubeconfig):
    config = load(kubeconfig)
    assert config.dns_provider == "google-clouddns"
    assert "setting dns provider to google-clouddns" in config.notices


def test_dns_provider_defaults_on_aws(kubeconfig):
    assert load(kubeconfig, KUBERNETES_PROVIDER="aws").dns_provider == "aws-route53"


def test_dns_provider_required_on_kind(kubeconfig):
    error = rejected(kubeconfig, KUBERNETES_PROVIDER="kind")
    assert "FEDERATION_DNS_PROVIDER must be set" in error.message


def test_dns_provider_unknown_rejected(kubeconfig):
    error = rejected(kubeconfig, FEDERATION_DNS_PROVIDER="route53")
    assert "FEDERATION_DNS_PROVIDER='route53'" in error.message


def test_dns_provider_reaches_controller_manager(kubeconfig):
    deployment = objects(load(kubeconfig, FEDERATION_DNS_PROVIDER="aws-route53"))["Deployment/federation-controller-manager"]
    assert "--dns-provider=aws-route53" in container_args(deployment)


def test_coredns_needs_provider_config(kubeconfig):
    error = rejected(kubeconfig, FEDERATION_DNS_PROVIDER="coredns")
    assert "FEDERATION_DNS_PROVIDER_CONFIG" in error.message


def test_provider_config_missing_file_rejected(kubeconfig, tmp_path):
    error = rejected(kubeconfig, FEDERATION_DNS_PROVIDER="coredns", FEDERATION_DNS_PROVIDER_CONFIG=str(tmp_path / "absent.conf"))
    assert "absent.conf" in error.message


def test_provider_config_mounted_from_secret(kubeconfig, tmp_path):
    conf = tmp_path / "coredns.conf"
    conf.write_text("[Global]\netcd-endpoints = http://127.0.0.1:2379\nzones = example.com.\n")
    config = load(kubeconfig, FEDERATION_DNS_PROVIDER="coredns", FEDERATION_DNS_PROVIDER_CONFIG=str(conf))
    rendered = objects(config, controlplane.read_dns_provider_config(config))
    secret = rendered["Secret/federation-dns-provider.conf"]
    deployment = rendered["Deployment/federation-controller-manager"]
    mounts = deployment["spec"]["template"]["spec"]["containers"][0]["volumeMounts"]
    assert base64.b64decode(secret["data"]["federation-dns-provider.conf"]) == conf.read_bytes()
    assert "--dns-provider-config=/etc/federation/dns-provider/federation-dns-provider.conf" in container_args(deployment)
    assert {"name": "dns-provider-config", "mountPath": "/etc/federation/dns-provider", "readOnly": True} in mounts


# -- FEDERATION_NAME ------------------------------------------------------------


def test_federation_name_default_direct(kubeconfig):
    deployment = objects(load(kubeconfig))["Deployment/federation-controller-manager"]
    assert "--federation-name=federation" in container_args(deployment)


def test_federation_name_default_kubefed(kubeconfig):
    assert load(kubeconfig, USE_KUBEFED="true", KUBERNETES_RELEASE="v1.8.0").federation_name == "e2e-federation"


def test_federation_name_sets_flag_and_label(kubeconfig):
    rendered = objects(load(kubeconfig, FEDERATION_NAME="myfederation"))
    deployment = rendered["Deployment/federation-controller-manager"]
    assert "--federation-name=myfederation" in container_args(deployment)
    assert all(obj["metadata"]["labels"]["federation.k8s.io/federation-name"] == "myfederation" for obj in rendered.values())


def test_federation_name_invalid_rejected(kubeconfig):
    error = rejected(kubeconfig, FEDERATION_NAME="My_Federation")
    assert "FEDERATION_NAME='My_Federation'" in error.message


# -- DNS_ZONE_NAME and FEDERATION_DNS_ZONE_NAME -------------------------------


def test_dns_zone_default(kubeconfig):
    deployment = objects(load(kubeconfig))["Deployment/federation-controller-manager"]
    assert "--zone-name=federation.example." in container_args(deployment)


def test_dns_zone_from_variable(kubeconfig):
    assert load(kubeconfig, DNS_ZONE_NAME="myfederation.example").dns_zone == "myfederation.example"


def test_federation_dns_zone_name_wins(kubeconfig):
    config = load(kubeconfig, DNS_ZONE_NAME="a.example.", FEDERATION_DNS_ZONE_NAME="b.example.")
    assert config.dns_zone == "b.example."


def test_dns_zone_invalid_rejected(kubeconfig):
    error = rejected(kubeconfig, FEDERATION_DNS_ZONE_NAME="bad_zone.example")
    assert "FEDERATION_DNS_ZONE_NAME" in error.message


# -- FEDERATION_PUSH_REPO_BASE, FEDERATION_IMAGE_TAG ------------------------------


def test_push_repo_base_sets_image(kubeconfig):
    deployment = objects(load(kubeconfig, FEDERATION_PUSH_REPO_BASE="127.0.0.1:5000/fed"))["Deployment/federation-apiserver"]
    assert deployment["spec"]["template"]["spec"]["containers"][0]["image"] == "127.0.0.1:5000/fed/hyperkube:v1.5.0"


def test_push_repo_base_missing_without_gcloud(kubeconfig, no_gcloud):
    error = rejected(kubeconfig, FEDERATION_PUSH_REPO_BASE="")
    assert "FEDERATION_PUSH_REPO_BASE is not set" in error.message


def test_image_tag_variable_wins_over_file(kubeconfig, tmp_path):
    tag_file = tmp_path / "federated-image.tag"
    tag_file.write_text("from-file\n")
    config = load(kubeconfig, FEDERATION_IMAGE_TAG="from-env", FEDERATION_IMAGE_TAG_FILE=str(tag_file))
    assert config.image == "k8s.gcr.io/hyperkube:from-env"


def test_image_tag_read_from_file(kubeconfig, tmp_path):
    tag_file = tmp_path / "federated-image.tag"
    tag_file.write_text("v1.5.0-alpha.1\n")
    config = load(kubeconfig, FEDERATION_IMAGE_TAG="", FEDERATION_IMAGE_TAG_FILE=str(tag_file))
    assert config.image == "k8s.gcr.io/hyperkube:v1.5.0-alpha.1"


def test_image_tag_missing_names_both(kubeconfig, tmp_path):
    error = rejected(kubeconfig, FEDERATION_IMAGE_TAG="", FEDERATION_IMAGE_TAG_FILE=str(tmp_path / "none.tag"))
    assert "FEDERATION_IMAGE_TAG" in error.message
    assert "none.tag" in error.message


def test_image_tag_missing_hint_names_fixes(kubeconfig, tmp_path, monkeypatch):
    default_file = tmp_path / "federation" / "manifests" / "federated-image.tag"
    monkeypatch.setattr(settings, "IMAGE_TAG_FILE", default_file)

    error = rejected(kubeconfig, FEDERATION_IMAGE_TAG="")

    assert error.exit_code == 3
    assert str(default_file) in error.message
    assert "set FEDERATION_IMAGE_TAG" in error.hint
    assert "run build/push-federation-images.sh" in error.hint
    assert f"writes its tag to {default_file}" in error.hint


# -- FEDERATION_NAMESPACE, FEDERATION_KUBE_CONTEXT, FEDERATION_HOST_CLUSTER_CONTEXT --


def test_namespace_default_direct(kubeconfig):
    assert load(kubeconfig).namespace == "federation"


def test_namespace_default_kubefed(kubeconfig):
    assert load(kubeconfig, USE_KUBEFED="true", KUBERNETES_RELEASE="v1.8.0").namespace == "federation-system"


def test_namespace_sets_object_namespace(kubeconfig):
    rendered = objects(load(kubeconfig, FEDERATION_NAMESPACE="fed-ns"))
    assert {obj["metadata"].get("namespace", obj["metadata"]["name"]) for obj in rendered.values()} == {"fed-ns"}


def test_kube_context_default_direct(kubeconfig):
    assert load(kubeconfig).kube_context == "federation-cluster"


def test_kube_context_default_kubefed(kubeconfig):
    assert load(kubeconfig, USE_KUBEFED="true", KUBERNETES_RELEASE="v1.8.0", FEDERATION_NAME="myfed").kube_context == "myfed"


def test_kube_context_equal_to_host_rejected(kubeconfig):
    error = rejected(kubeconfig, FEDERATION_KUBE_CONTEXT="federation-e2e-host")
    assert "FEDERATION_KUBE_CONTEXT" in error.message


def test_host_context_default_is_current(kubeconfig):
    config = load(kubeconfig)
    assert config.host_context == "federation-e2e-host"
    assert config.host_context_source == "current context"


def test_host_context_from_variable(kubeconfig):
    assert load(kubeconfig, FEDERATION_HOST_CLUSTER_CONTEXT="kind-member1").host_context == "kind-member1"


def test_host_context_from_argument(kubeconfig):
    assert load(kubeconfig, "kind-member1").host_context == "kind-member1"


def test_host_context_from_e2e_zones(kubeconfig):
    assert load(kubeconfig, E2E_ZONES="us-east1-b us-central1-b").host_context == "federation-e2e-gce-us-central1-b"


def test_host_context_unknown_rejected(kubeconfig):
    error = rejected(kubeconfig, FEDERATION_HOST_CLUSTER_CONTEXT="nowhere")
    assert "FEDERATION_HOST_CLUSTER_CONTEXT='nowhere'" in error.message


# -- FEDERATION_ADMISSION_CONTROL, FEDERATION_SERVICE_CIDR, FEDERATION_API_NODEPORT --


def test_admission_control_flag(kubeconfig):
    deployment = objects(load(kubeconfig, FEDERATION_ADMISSION_CONTROL="NamespaceLifecycle,ResourceQuota"))["Deployment/federation-apiserver"]
    assert "--admission-control=NamespaceLifecycle,ResourceQuota" in container_args(deployment)


def test_admission_control_invalid_rejected(kubeconfig):
    error = rejected(kubeconfig, FEDERATION_ADMISSION_CONTROL="Namespace Lifecycle")
    assert "FEDERATION_ADMISSION_CONTROL" in error.message


def test_service_cidr_flag(kubeconfig):
    deployment = objects(load(kubeconfig, FEDERATION_SERVICE_CIDR="10.20.0.0/16"))["Deployment/federation-apiserver"]
    assert "--service-cluster-ip-range=10.20.0.0/16" in container_args(deployment)


def test_service_cidr_invalid_rejected(kubeconfig):
    error = rejected(kubeconfig, FEDERATION_SERVICE_CIDR="10.10.0.1/24")
    assert "FEDERATION_SERVICE_CIDR='10.10.0.1/24'" in error.message


def test_api_nodeport_sets_node_port(kubeconfig):
    config = load(kubeconfig, KUBERNETES_PROVIDER="local", FEDERATION_DNS_PROVIDER="google-clouddns", FEDERATION_API_NODEPORT="30443")
    assert controlplane.service(config)["spec"]["ports"][0]["nodePort"] == 30443


def test_api_nodeport_out_of_range_rejected(kubeconfig):
    error = rejected(kubeconfig, FEDERATION_API_NODEPORT="443")
    assert "FEDERATION_API_NODEPORT='443'" in error.message


# -- FEDERATION_USE_PV_FOR_ETCD -------------------------------------------------


def test_use_pv_default_direct_claims_volume(kubeconfig):
    rendered = objects(load(kubeconfig))
    claim = rendered["PersistentVolumeClaim/federation-apiserver-etcd-claim"]
    assert claim["spec"]["resources"]["requests"]["storage"] == "10Gi"
    assert claim["spec"]["accessModes"] == ["ReadWriteOnce"]


def test_use_pv_false_uses_empty_dir(kubeconfig):
    rendered = objects(load(kubeconfig, FEDERATION_USE_PV_FOR_ETCD="false"))
    volumes = rendered["Deployment/federation-apiserver"]["spec"]["template"]["spec"]["volumes"]
    assert "PersistentVolumeClaim/federation-apiserver-etcd-claim" not in rendered
    assert {"name": "etcddata", "emptyDir": {}} in volumes


def test_use_pv_default_kubefed_is_false(kubeconfig):
    assert load(kubeconfig, USE_KUBEFED="true", KUBERNETES_RELEASE="v1.8.0").use_pv_for_etcd is False


def test_use_pv_not_boolean_rejected(kubeconfig):
    error = rejected(kubeconfig, FEDERATION_USE_PV_FOR_ETCD="maybe")
    assert "FEDERATION_USE_PV_FOR_ETCD" in error.message


# -- KUBECONFIG, FEDERATION_CLUSTERS, FEDERATION_WAIT_TIMEOUT, FEDERATION_DRY_RUN ---


def test_kubeconfig_first_file_receives_entry(kubeconfig, tmp_path):
    first = tmp_path / "first.yaml"
    config = settings.load_up(Environment({"KUBECONFIG": f"{first}:{kubeconfig}", "FEDERATION_PUSH_REPO_BASE": "k8s.gcr.io", "FEDERATION_IMAGE_TAG": "v1"}))
    assert config.kubeconfig_path == first
    assert config.host_context == "federation-e2e-host"


def test_member_files_name_secrets(kubeconfig):
    member = kubeconfig.parent / "federation" / "kubernetes-apiserver" / "federation_e2e_gce_us"
    member.mkdir(parents=True)
    (member / "kubeconfig").write_text("{}")
    assert load(kubeconfig).member_files == {"federation-e2e-gce-us": member / "kubeconfig"}


def test_member_directory_empty_means_no_members(kubeconfig):
    (kubeconfig.parent / "federation" / "kubernetes-apiserver").mkdir(parents=True)
    assert load(kubeconfig).member_files == {}


def test_clusters_lists_member_contexts(kubeconfig):
    assert load(kubeconfig, FEDERATION_CLUSTERS="kind-member1, federation-e2e-host").member_contexts == ["kind-member1", "federation-e2e-host"]


def test_clusters_unknown_context_rejected(kubeconfig):
    error = rejected(kubeconfig, FEDERATION_CLUSTERS="kind-member1 kind-member9")
    assert "kind-member9" in error.message


def test_kubefed_members_default_to_federation_contexts(kubeconfig):
    config = load(kubeconfig, USE_KUBEFED="true", KUBERNETES_RELEASE="v1.8.0")
    assert config.member_contexts == ["federation-e2e-host", "federation-e2e-gce-us-central1-b"]


def test_wait_timeout_default(kubeconfig):
    assert load(kubeconfig).wait_seconds == 300


def test_wait_timeout_invalid_rejected(kubeconfig):
    error = rejected(kubeconfig, FEDERATION_WAIT_TIMEOUT="soon")
    assert "FEDERATION_WAIT_TIMEOUT='soon'" in error.message


def test_dry_run_variable(kubeconfig):
    assert load(kubeconfig, FEDERATION_DRY_RUN="true").dry_run is True


# -- USE_KUBEFED, KUBERNETES_RELEASE, KUBE_REGISTRY ----------------------------------


def test_use_kubefed_objects(kubeconfig):
    config = load(kubeconfig, USE_KUBEFED="true", KUBERNETES_RELEASE="v1.8.0+abc", KUBE_REGISTRY="127.0.0.1:5000/k8s", FEDERATION_NAME="fed")
    rendered = objects(config)
    manager = rendered["Deployment/fed-controller-manager"]
    assert config.image == "127.0.0.1:5000/k8s/hyperkube-amd64:v1.8.0_abc"
    assert "Secret/fed-apiserver-credentials" in rendered
    assert "Secret/fed-controller-manager-kubeconfig" in rendered
    assert "ServiceAccount/federation-controller-manager" in rendered
    assert "RoleBinding/federation-system:federation-controller-manager" in rendered
    assert manager["metadata"]["annotations"]["federations"] == "fed=federation.example"
    assert "--master=https://fed-apiserver" in container_args(manager)


def test_kubefed_release_missing_rejected(kubeconfig, monkeypatch, tmp_path):
    monkeypatch.setattr(settings, "VERSIONS_FILE", tmp_path / "versions")
    error = rejected(kubeconfig, USE_KUBEFED="true", KUBE_REGISTRY="k8s.gcr.io")
    assert "KUBERNETES_RELEASE" in error.message


def test_kubefed_version_from_versions_file(kubeconfig, monkeypatch, tmp_path):
    versions = tmp_path / "versions"
    versions.write_text('{"KUBE_VERSION": "v1.8.1+build.2"}')
    monkeypatch.setattr(settings, "VERSIONS_FILE", versions)
    assert load(kubeconfig, USE_KUBEFED="true", KUBE_REGISTRY="k8s.gcr.io").image == "k8s.gcr.io/hyperkube-amd64:v1.8.1_build.2"


# -- credentials and kubeconfig entries -----------------------------------------


def test_sans_cover_host_and_service_names():
    sans = server_sans("127.0.0.5", "federation-apiserver", "federation")
    assert sans == [
        "127.0.0.5",
        "federation-apiserver",
        "federation-apiserver.federation",
        "federation-apiserver.federation.svc",
        "federation-apiserver.federation.svc.cluster.local",
        "127.0.0.1",
    ]


def test_credentials_reused_from_secrets(kubeconfig):
    config = load(kubeconfig)
    first = credentials_for(config)
    secret = {"data": {
        "known-tokens.csv": apiserver_credentials.b64(first.tokens_csv),
        "basic-auth.csv": apiserver_credentials.b64(first.basic_auth_csv),
        "ca.crt": apiserver_credentials.b64(first.ca.cert_pem),
        "server.cert": apiserver_credentials.b64(first.server.cert_pem),
        "server.key": apiserver_credentials.b64(first.server.key_pem),
    }}
    ca_secret = controlplane.ca_secret(config, first)
    sans = server_sans("127.0.0.5", config.apiserver_name, config.namespace)
    second, made = ensure(ca_secret, secret, DIRECT_LAYOUT, sans, config.apiserver_name, "admin")
    assert made == []
    assert second.token == first.token
    assert second.server == first.server


def test_credentials_reissued_for_new_address(kubeconfig):
    config = load(kubeconfig)
    first = credentials_for(config)
    secret = {"data": {"server.cert": apiserver_credentials.b64(first.server.cert_pem), "server.key": apiserver_credentials.b64(first.server.key_pem)}}
    sans = server_sans("127.0.0.9", config.apiserver_name, config.namespace)
    _, made = ensure(controlplane.ca_secret(config, first), secret, DIRECT_LAYOUT, sans, config.apiserver_name, "admin")
    assert made == ["serving certificate", "token", "password"]


def test_user_kubeconfig_entries_verify_tls(kubeconfig):
    config = load(kubeconfig)
    creds = credentials_for(config)
    cluster, users, context = controlplane.user_kubeconfig_entries(config, creds, Endpoint("127.0.0.5", 443))
    assert cluster["cluster"] == {"server": "https://127.0.0.5:443", "certificate-authority-data": apiserver_credentials.b64(creds.ca.cert_pem)}
    assert [user["name"] for user in users] == ["federation-cluster", "federation-cluster-basic-auth"]
    assert context == {"name": "federation-cluster", "context": {"cluster": "federation-cluster", "user": "federation-cluster"}}


def test_advertise_address_left_out_for_dns_name(kubeconfig):
    config = load(kubeconfig, KUBERNETES_PROVIDER="aws")
    deployment = controlplane.control_plane(config, credentials_for(config), Endpoint("lb.example.com", 443), None)[2]
    assert not any(arg.startswith("--advertise-address") for arg in container_args(deployment))


# -- the kubefed-era RBAC wait ---------------------------------------------------


class HostWithoutRbac:
    """A host whose discovery never lists the RBAC group."""

    context = "federation-e2e-host"

    def __init__(self) -> None:
        self.requests = 0

    def request(self, method: str, path: str, **kwargs) -> dict:
        self.requests += 1
        return {"groups": [{"name": "apps"}]}


def test_rbac_wait_exits_123(kubeconfig):
    from federation.cluster.up_steps import RbacUnavailable, UpJob
    from federation.core.status import Status

    job = UpJob(load(kubeconfig, USE_KUBEFED="true", KUBERNETES_RELEASE="v1.8.0", FEDERATION_WAIT_TIMEOUT="0.5"), Status(quiet=True))
    job.host = HostWithoutRbac()
    with pytest.raises(RbacUnavailable) as caught:
        job.wait_for_rbac()
    assert caught.value.exit_code == 123
    assert "rbac.authorization.k8s.io" in caught.value.message
    assert job.host.requests >= 1
