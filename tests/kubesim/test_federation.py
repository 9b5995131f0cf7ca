"""Emulated federation API server and Cluster readiness."""

from __future__ import annotations

import base64
import ipaddress
import socket
from pathlib import Path

import pytest
import requests
import yaml

from kubesim import ClusterSpec
from kubesim.controllers.service import next_load_balancer_address
from kubesim.pki import CertificateAuthority
from kubesim_helpers import Kubectl, wait_for

NAMESPACE = "federation-system"
TOKEN = "federation-admin-token-0123456789"


def _b64(data: bytes | str) -> str:
    return base64.b64encode(data.encode() if isinstance(data, str) else data).decode()


def _free_port(address: str) -> int:
    with socket.socket() as sock:
        sock.bind((address, 0))
        return sock.getsockname()[1]


def _deploy_apiserver(cluster, ca: CertificateAuthority, address: str, service_port: int,
                      token: str = TOKEN, before_deployment=None) -> None:
    serving = ca.issue("federation-apiserver", ip_addresses=(address,), dns_names=("federation-apiserver",),
                       server=True)
    cluster.put_object({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}})
    cluster.put_object({
        "apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "federation-apiserver-secrets", "namespace": NAMESPACE},
        "data": {"known-tokens.csv": _b64(f'{token},admin,admin,"system:masters"\n'),
                 "basic-auth.csv": _b64("secretpassword,admin,admin\n"),
                 "ca.crt": _b64(ca.cert_pem), "server.cert": _b64(serving.cert_pem),
                 "server.key": _b64(serving.key_pem)},
    })
    labels = {"app": "federated-cluster", "module": "federation-apiserver"}
    cluster.put_object({
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "federation-apiserver", "namespace": NAMESPACE},
        "spec": {"type": "LoadBalancer", "selector": labels,
                 "ports": [{"name": "https", "port": service_port, "targetPort": 443}]},
    })
    if before_deployment is not None:
        before_deployment()
    cluster.put_object({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "federation-apiserver", "namespace": NAMESPACE},
        "spec": {"selector": {"matchLabels": labels}, "template": {
            "metadata": {"labels": labels},
            "spec": {"containers": [{
                "name": "apiserver", "image": "gcr.io/google_containers/hyperkube-amd64:v1.7.0",
                "command": ["/usr/local/bin/hyperkube", "federation-apiserver", "--secure-port=443",
                            "--client-ca-file=/srv/kubernetes/ca.crt",
                            "--basic-auth-file=/srv/kubernetes/basic-auth.csv",
                            "--tls-cert-file=/srv/kubernetes/server.cert",
                            "--tls-private-key-file=/srv/kubernetes/server.key",
                            "--token-auth-file=/srv/kubernetes/known-tokens.csv", "--anonymous-auth=false"],
                "volumeMounts": [{"name": "federation-apiserver-secrets", "mountPath": "/srv/kubernetes/",
                                  "readOnly": True}]}],
                "volumes": [{"name": "federation-apiserver-secrets",
                             "secret": {"secretName": "federation-apiserver-secrets"}}]}}},
    })


def _deploy_controller_manager(cluster) -> None:
    labels = {"app": "federated-cluster", "module": "federation-controller-manager"}
    cluster.put_object({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "federation-controller-manager", "namespace": NAMESPACE},
        "spec": {"selector": {"matchLabels": labels}, "template": {
            "metadata": {"labels": labels},
            "spec": {"containers": [{
                "name": "controller-manager", "image": "gcr.io/google_containers/hyperkube-amd64:v1.7.0",
                "command": ["/usr/local/bin/hyperkube", "federation-controller-manager",
                            "--master=https://federation-apiserver:443"]}]}}},
    })


def _running_server(cluster) -> dict:
    return wait_for(lambda: next((s for s in cluster.federation_servers if s["running"]), None),
                     what=f"a running federation API server (have {cluster.federation_servers})")


@pytest.fixture
def federation(kubesim_clusters, tmp_path):
    """A host cluster with load balancers serving a federation API server, and two members."""
    sim = kubesim_clusters([ClusterSpec("host", load_balancer=True), ClusterSpec("member1", require_token=True),
                            ClusterSpec("member2")])
    ca = CertificateAuthority("federation-ca")
    port = _free_port("127.0.0.1")
    address = next_load_balancer_address([port])
    _deploy_apiserver(sim["host"], ca, address, port)
    server = _running_server(sim["host"])
    ca_file = tmp_path / "federation-ca.crt"
    ca_file.write_bytes(ca.cert_pem)
    return sim, server, ca_file


def _federation_get(server: dict, path: str, ca_file: Path, token: str = TOKEN) -> requests.Response:
    return requests.get(server["url"] + path, headers={"Authorization": f"Bearer {token}"}, verify=str(ca_file),
                        timeout=5)


def test_federation_apiserver_serves_on_load_balancer(federation):
    sim, server, ca_file = federation

    assert ipaddress.ip_address(server["address"]) in ipaddress.ip_network("127.0.0.0/8")
    assert server["address"] != "127.0.0.1"
    response = _federation_get(server, "/healthz", ca_file)
    assert response.status_code == 200
    assert response.text == "ok"

    groups = _federation_get(server, "/apis", ca_file).json()
    assert [g["name"] for g in groups["groups"]] == ["federation"]
    resources = _federation_get(server, "/apis/federation/v1beta1", ca_file).json()
    assert [r["name"] for r in resources["resources"] if "/" not in r["name"]] == ["clusters"]


def test_federation_apiserver_rejects_wrong_token(federation):
    _, server, ca_file = federation

    assert _federation_get(server, "/healthz", ca_file, token="wrong").status_code == 401
    anonymous = requests.get(server["url"] + "/api/v1/namespaces", verify=str(ca_file), timeout=5)
    assert anonymous.status_code == 401


def test_federation_apiserver_accepts_basic_auth(federation):
    _, server, ca_file = federation

    response = requests.get(server["url"] + "/api/v1/namespaces", auth=("admin", "secretpassword"),
                            verify=str(ca_file), timeout=5)
    assert response.status_code == 200
    bad = requests.get(server["url"] + "/api/v1/namespaces", auth=("admin", "nope"), verify=str(ca_file), timeout=5)
    assert bad.status_code == 401


def test_federation_apiserver_untrusted_ca_fails_tls(federation):
    sim, server, _ = federation
    other_ca = Path(sim.kubeconfig_path).parent / "member-ca.crt"
    other_ca.write_text(sim["member2"].ca_pem)

    with pytest.raises(requests.exceptions.SSLError, match="CERTIFICATE_VERIFY_FAILED"):
        _federation_get(server, "/healthz", other_ca)


def test_federation_apiserver_stops_when_secret_deleted(federation):
    sim, server, ca_file = federation
    host = sim["host"]

    host.store.delete(host.store.resource_for("v1", "Secret"), NAMESPACE, "federation-apiserver-secrets")

    wait_for(lambda: not any(s["running"] for s in host.federation_servers), what="the server to stop")
    assert "not found" in host.federation_servers[0]["error"]
    with pytest.raises(requests.exceptions.ConnectionError):
        _federation_get(server, "/healthz", ca_file)


def test_federation_apiserver_bind_failure_recorded(kubesim_clusters):
    sim = kubesim_clusters([ClusterSpec("host", load_balancer=True)])
    port = _free_port("127.0.0.1")
    address = next_load_balancer_address([port])
    with socket.socket() as blocker:
        def occupy() -> None:
            # Taken once the Service has its address and before the Deployment exists, so the server's bind fails.
            wait_for(lambda: (sim["host"].get_object("v1", "Service", "federation-apiserver", NAMESPACE)["status"]
                              .get("loadBalancer", {}).get("ingress")), what="the load-balancer address")
            blocker.bind((address, port))
            blocker.listen()

        _deploy_apiserver(sim["host"], CertificateAuthority("federation-ca"), address, port, before_deployment=occupy)

        failed = wait_for(lambda: next((s for s in sim["host"].federation_servers if s["error"]), None),
                           what="a recorded bind error")
    assert f"cannot listen on {address}" in failed["error"]
    assert failed["running"] is False


def _member_kubeconfig(member, server: str | None = None, token: str | None = None,
                       ca_pem: str | None = None) -> str:
    config = {
        "apiVersion": "v1", "kind": "Config", "current-context": member.context,
        "clusters": [{"name": member.context, "cluster": {
            "server": server or member.url,
            "certificate-authority-data": _b64(ca_pem or member.ca_pem)}}],
        "users": [{"name": member.context, "user": {"token": token or member.token}}],
        "contexts": [{"name": member.context, "context": {"cluster": member.context, "user": member.context}}],
    }
    return yaml.safe_dump(config)


def _register(sim, server: dict, ca_file: Path, cluster_name: str, kubeconfig: str) -> None:
    sim["host"].put_object({"apiVersion": "v1", "kind": "Secret",
                            "metadata": {"name": cluster_name, "namespace": NAMESPACE},
                            "data": {"kubeconfig": _b64(kubeconfig)}})
    body = {"apiVersion": "federation/v1beta1", "kind": "Cluster", "metadata": {"name": cluster_name},
            "spec": {"serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": sim["member1"].url}],
                     "secretRef": {"name": cluster_name}}}
    response = requests.post(server["url"] + "/apis/federation/v1beta1/clusters", json=body,
                             headers={"Authorization": f"Bearer {TOKEN}"}, verify=str(ca_file), timeout=5)
    assert response.status_code == 201, response.text


def _ready_condition(server: dict, ca_file: Path, name: str) -> dict | None:
    cluster = _federation_get(server, f"/apis/federation/v1beta1/clusters/{name}", ca_file).json()
    return next((c for c in (cluster.get("status") or {}).get("conditions") or [] if c["type"] == "Ready"), None)


@pytest.mark.parametrize("case", ["good", "wrong-token", "wrong-ca", "wrong-endpoint", "wrong-san"])
def test_cluster_readiness(federation, case):
    sim, server, ca_file = federation
    _deploy_controller_manager(sim["host"])
    member = sim["member1"]

    if case == "good":
        kubeconfig = _member_kubeconfig(member)
    elif case == "wrong-token":
        kubeconfig = _member_kubeconfig(member, token="not-a-valid-token")
    elif case == "wrong-ca":
        kubeconfig = _member_kubeconfig(member, ca_pem=sim["member2"].ca_pem)
    elif case == "wrong-endpoint":
        kubeconfig = _member_kubeconfig(member, server=f"https://127.0.0.1:{_free_port('127.0.0.1')}")
    else:
        # The member certificate lists 127.0.0.1 and localhost, not 127.0.0.3.
        kubeconfig = _member_kubeconfig(member, server=member.url.replace("127.0.0.1", "127.0.0.3"))
    _register(sim, server, ca_file, "member1", kubeconfig)

    condition = wait_for(lambda: _ready_condition(server, ca_file, "member1"), what="a Ready condition")
    if case == "good":
        assert condition["status"] == "True"
        assert condition["reason"] == "ClusterReady"
        return
    assert condition["status"] == "False"
    expected = {
        "wrong-token": ("ClusterNotReady", "401"),
        "wrong-ca": ("ClusterNotReachable", "certificate verify failed"),
        "wrong-endpoint": ("ClusterNotReachable", "127.0.0.1"),
        "wrong-san": ("ClusterNotReachable", "127.0.0.3"),
    }[case]
    assert condition["reason"] == expected[0]
    assert expected[1] in condition["message"]


def test_cluster_readiness_missing_secret(federation):
    sim, server, ca_file = federation
    _deploy_controller_manager(sim["host"])
    body = {"apiVersion": "federation/v1beta1", "kind": "Cluster", "metadata": {"name": "ghost"},
            "spec": {"serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": sim["member2"].url}],
                     "secretRef": {"name": "ghost"}}}
    requests.post(server["url"] + "/apis/federation/v1beta1/clusters", json=body,
                  headers={"Authorization": f"Bearer {TOKEN}"}, verify=str(ca_file), timeout=5).raise_for_status()

    condition = wait_for(lambda: _ready_condition(server, ca_file, "ghost"), what="a Ready condition")
    assert condition["status"] == "False"
    assert condition["reason"] == "ClusterSecretNotFound"
    assert "federation-system/ghost" in condition["message"]


def test_cluster_becomes_ready_after_secret_fixed(federation):
    sim, server, ca_file = federation
    _deploy_controller_manager(sim["host"])
    member = sim["member1"]
    _register(sim, server, ca_file, "member1", _member_kubeconfig(member, token="stale"))
    wait_for(lambda: (_ready_condition(server, ca_file, "member1") or {}).get("status") == "False",
              what="Ready=False")

    sim["host"].put_object({"apiVersion": "v1", "kind": "Secret",
                            "metadata": {"name": "member1", "namespace": NAMESPACE},
                            "data": {"kubeconfig": _b64(_member_kubeconfig(member))}})

    condition = wait_for(lambda: (c := _ready_condition(server, ca_file, "member1")) and c["status"] == "True" and c,
                          what="Ready=True after fixing the token")
    assert condition["reason"] == "ClusterReady"


def test_kubectl_against_federation_apiserver(federation, tmp_path):
    _, server, ca_file = federation
    kubeconfig = tmp_path / "federation.kubeconfig"
    kubeconfig.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "federation",
        "clusters": [{"name": "federation", "cluster": {"server": server["url"],
                                                        "certificate-authority-data": _b64(ca_file.read_bytes())}}],
        "users": [{"name": "federation", "user": {"token": TOKEN}}],
        "contexts": [{"name": "federation", "context": {"cluster": "federation", "user": "federation"}}]}))
    kubectl = Kubectl(kubeconfig, tmp_path)

    kubectl("create", "namespace", "fed-ns")
    kubectl("apply", "-f", "-", input=yaml.safe_dump({
        "apiVersion": "federation/v1beta1", "kind": "Cluster", "metadata": {"name": "c1"},
        "spec": {"serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "https://x"}],
                 "secretRef": {"name": "c1"}}}))

    names = kubectl("get", "clusters", "-o", "jsonpath={.items[*].metadata.name}").stdout
    assert names == "c1"
    store = server["store"]
    assert store.try_get(store.resource_for("v1", "Namespace"), None, "fed-ns") is not None
