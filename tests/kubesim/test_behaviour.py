"""Simulated controller behaviour, authentication, faults, start-up and the command line."""

from __future__ import annotations

import ipaddress

import base64
import json
import os
import signal
import ssl
import stat
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest
import requests
import yaml
from kubernetes import client, config

from kubesim import ClusterSpec, SimulatedClusters
from kubesim.seed import KIND_COREFILE
from kubesim_helpers import wait_for

PVC = {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "data", "namespace": "default"},
       "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}


def _service(name: str, service_type: str, node_port: int | None = None) -> dict:
    port = {"port": 80, "targetPort": 8080}
    if node_port:
        port["nodePort"] = node_port
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": "default"},
            "spec": {"type": service_type, "selector": {"app": name}, "ports": [port]}}


def _core(sim, context: str) -> client.CoreV1Api:
    return client.CoreV1Api(config.new_client_from_config(sim.kubeconfig_path, context=context))


def test_pvc_pending_without_default_class(kubesim_clusters):
    cluster = kubesim_clusters(["c"])["c"]
    cluster.set_default_storage_class(False)

    cluster.put_object(PVC)

    event = wait_for(lambda: cluster.objects("v1", "Event", "default"), what="a FailedBinding event")[0]
    assert event["reason"] == "FailedBinding"
    assert event["message"] == "no persistent volumes available for this claim and no storage class is set"
    assert cluster.get_object("v1", "PersistentVolumeClaim", "data")["status"]["phase"] == "Pending"


def test_pvc_binds_when_default_class_restored(kubesim_clusters):
    cluster = kubesim_clusters(["c"])["c"]
    cluster.set_default_storage_class(False)
    cluster.put_object(PVC)
    wait_for(lambda: cluster.objects("v1", "Event", "default"), what="a FailedBinding event")

    cluster.set_default_storage_class(True)

    claim = wait_for(lambda: (c := cluster.get_object("v1", "PersistentVolumeClaim", "data"))
                     and c["status"]["phase"] == "Bound" and c, what="the claim to bind")
    assert claim["spec"]["storageClassName"] == "standard"
    volume = cluster.get_object("v1", "PersistentVolume", claim["spec"]["volumeName"])
    assert volume["spec"]["claimRef"]["name"] == "data"
    assert volume["status"]["phase"] == "Bound"


def test_seeded_default_storage_class(kubesim_clusters):
    cluster = kubesim_clusters(["c"])["c"]

    storage_class = cluster.get_object("storage.k8s.io/v1", "StorageClass", "standard")

    assert storage_class["provisioner"] == "rancher.io/local-path"
    assert storage_class["metadata"]["annotations"]["storageclass.kubernetes.io/is-default-class"] == "true"


def test_pod_waits_for_unbound_claim(kubesim_clusters):
    cluster = kubesim_clusters(["c"])["c"]
    cluster.set_default_storage_class(False)
    cluster.put_object(PVC)
    cluster.put_object({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "user", "namespace": "default"},
                        "spec": {"containers": [{"name": "c", "image": "busybox"}],
                                 "volumes": [{"name": "d", "persistentVolumeClaim": {"claimName": "data"}}]}})
    time.sleep(0.3)
    assert cluster.get_object("v1", "Pod", "user")["status"]["phase"] == "Pending"

    cluster.set_default_storage_class(True)

    wait_for(lambda: cluster.get_object("v1", "Pod", "user")["status"]["phase"] == "Running", what="Running pod")


def test_load_balancer_address_only_when_enabled(kubesim_clusters):
    sim = kubesim_clusters([ClusterSpec("lb", load_balancer=True), ClusterSpec("kind")])
    for cluster in sim:
        cluster.put_object(_service("first", "LoadBalancer"))
        cluster.put_object(_service("second", "LoadBalancer"))

    def ingress(cluster, name):
        return cluster.get_object("v1", "Service", name)["status"]["loadBalancer"].get("ingress")

    wait_for(lambda: ingress(sim["lb"], "second"), what="load balancer addresses")
    addresses = {ingress(sim["lb"], name)[0]["ip"] for name in ("first", "second")}
    assert len(addresses) == 2
    assert all(ipaddress.ip_address(address) in ipaddress.ip_network("127.0.0.0/8") for address in addresses)
    assert "127.0.0.1" not in addresses
    time.sleep(0.2)
    assert ingress(sim["kind"], "first") is None


def test_node_port_allocation(kubesim_clusters):
    cluster = kubesim_clusters(["c"])["c"]

    allocated = cluster.put_object(_service("auto", "NodePort"))["spec"]["ports"][0]["nodePort"]
    requested = cluster.put_object(_service("fixed", "NodePort", node_port=31234))["spec"]["ports"][0]["nodePort"]

    assert 30000 <= allocated <= 32767
    assert requested == 31234
    assert cluster.get_object("v1", "Service", "auto")["spec"]["clusterIP"].startswith("10.96.")


def test_node_port_taken_is_invalid(kubesim_clusters):
    sim = kubesim_clusters(["c"])
    sim["c"].put_object(_service("fixed", "NodePort", node_port=31234))

    with pytest.raises(client.ApiException) as raised:
        _core(sim, "c").create_namespaced_service("default", _service("clash", "NodePort", node_port=31234))

    assert raised.value.status == 422
    assert "provided port is already allocated" in raised.value.body


def test_endpoints_follow_ready_pods(kubesim_clusters):
    cluster = kubesim_clusters(["c"])["c"]
    cluster.put_object(_service("web", "ClusterIP"))
    cluster.put_object({"apiVersion": "v1", "kind": "Pod",
                        "metadata": {"name": "web-1", "namespace": "default", "labels": {"app": "web"}},
                        "spec": {"containers": [{"name": "c", "image": "nginx"}]}})

    endpoints = wait_for(lambda: (e := cluster.get_object("v1", "Endpoints", "web")) and e.get("subsets") and e,
                         what="endpoints with an address")
    assert endpoints["subsets"][0]["ports"] == [{"port": 8080, "protocol": "TCP"}]
    assert endpoints["subsets"][0]["addresses"][0]["targetRef"]["name"] == "web-1"


def test_namespace_deletion_removes_contents(kubesim_clusters):
    sim = kubesim_clusters(["c"])
    cluster = sim["c"]
    cluster.put_object({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "doomed"}})
    cluster.put_object({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {
        "name": "held", "namespace": "doomed", "finalizers": ["example.com/hold"]}})

    _core(sim, "c").delete_namespace("doomed")

    wait_for(lambda: cluster.get_object("v1", "Namespace", "doomed") is None, what="the namespace to go")
    assert cluster.objects("v1", "ConfigMap", "doomed") == []
    assert cluster.objects("v1", "ServiceAccount", "doomed") == []


def test_namespace_terminating_phase(kubesim_clusters):
    cluster = kubesim_clusters([ClusterSpec("c", controllers={"seed"})])["c"]
    cluster.put_object({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "stuck"}})
    resource = cluster.store.resource_for("v1", "Namespace")

    cluster.store.delete(resource, None, "stuck")

    namespace = cluster.get_object("v1", "Namespace", "stuck")
    assert namespace["status"]["phase"] == "Terminating"
    assert namespace["metadata"]["deletionTimestamp"]
    assert namespace["spec"]["finalizers"] == ["kubernetes"]
    with pytest.raises(Exception, match="being terminated"):
        cluster.put_object({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x", "namespace": "stuck"}})


def _token_secret(namespace: str = "default") -> dict:
    return {"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/service-account-token",
            "metadata": {"name": "robot-token", "namespace": namespace,
                         "annotations": {"kubernetes.io/service-account.name": "robot"}}}


def test_service_account_token_secret_populated(kubesim_clusters):
    cluster = kubesim_clusters(["c"])["c"]
    cluster.put_object({"apiVersion": "v1", "kind": "ServiceAccount",
                        "metadata": {"name": "robot", "namespace": "default"}})

    cluster.put_object(_token_secret())

    secret = wait_for(lambda: (s := cluster.get_object("v1", "Secret", "robot-token"))
                      and s.get("data", {}).get("token") and s, what="a populated token secret")
    assert base64.b64decode(secret["data"]["ca.crt"]).decode() == cluster.ca_pem
    assert base64.b64decode(secret["data"]["namespace"]) == b"default"
    assert secret["metadata"]["annotations"]["kubernetes.io/service-account.uid"]


def _get(url: str, ca_pem: str, token: str | None = None) -> int:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"} if token else {})
    context = ssl.create_default_context(cadata=ca_pem)
    try:
        with urllib.request.urlopen(request, context=context, timeout=5) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def test_require_token_rejects_anonymous(kubesim_clusters):
    member = kubesim_clusters([ClusterSpec("member", require_token=True)])["member"]

    assert _get(member.url + "/api/v1/namespaces", member.ca_pem) == 401
    assert _get(member.url + "/api/v1/namespaces", member.ca_pem, token="wrong") == 401
    assert _get(member.url + "/api/v1/namespaces", member.ca_pem, token=member.token) == 200


def test_require_token_accepts_service_account_token(kubesim_clusters):
    member = kubesim_clusters([ClusterSpec("member", require_token=True)])["member"]
    member.put_object(_token_secret())
    secret = wait_for(lambda: (s := member.get_object("v1", "Secret", "robot-token"))
                      and s.get("data", {}).get("token") and s, what="a populated token secret")
    token = base64.b64decode(secret["data"]["token"]).decode()

    assert _get(member.url + "/api/v1/namespaces", member.ca_pem, token=token) == 200


def test_kubeconfig_user_credentials(kubesim_clusters):
    sim = kubesim_clusters([ClusterSpec("host", context="kind-host"), ClusterSpec("member", require_token=True)])

    kubeconfig = yaml.safe_load(open(sim.kubeconfig_path))

    users = {u["name"]: u["user"] for u in kubeconfig["users"]}
    assert set(users["kind-host"]) == {"client-certificate-data", "client-key-data"}
    assert users["member"] == {"token": sim["member"].token}
    assert [c["name"] for c in kubeconfig["contexts"]] == ["kind-host", "member"]
    assert stat.S_IMODE(os.stat(sim.kubeconfig_path).st_mode) == 0o600


def test_fault_fail_next_then_success(kubesim_clusters, tmp_path):
    cluster = kubesim_clusters(["c"])["c"]
    ca_file = tmp_path / "ca.crt"
    ca_file.write_text(cluster.ca_pem)
    cluster.faults.fail_next(2, status=503)

    responses = [requests.get(cluster.url + "/api/v1/namespaces", verify=str(ca_file), timeout=5)
                 for _ in range(3)]

    assert [r.status_code for r in responses] == [503, 503, 200]
    assert responses[0].json()["reason"] == "ServiceUnavailable"


def test_fault_reset_connection(kubesim_clusters, tmp_path):
    cluster = kubesim_clusters(["c"])["c"]
    ca_file = tmp_path / "ca.crt"
    ca_file.write_text(cluster.ca_pem)
    cluster.faults.reset_next(1)

    with pytest.raises(requests.exceptions.ConnectionError):
        requests.get(cluster.url + "/healthz", verify=str(ca_file), timeout=5)

    assert requests.get(cluster.url + "/healthz", verify=str(ca_file), timeout=5).text == "ok"


def test_fault_latency(kubesim_clusters, tmp_path):
    cluster = kubesim_clusters(["c"])["c"]
    ca_file = tmp_path / "ca.crt"
    ca_file.write_text(cluster.ca_pem)
    cluster.faults.latency(0.3)

    started = time.monotonic()
    requests.get(cluster.url + "/healthz", verify=str(ca_file), timeout=5)
    delayed = time.monotonic() - started
    cluster.faults.clear()

    assert delayed >= 0.3


def test_request_counters(kubesim_clusters):
    sim = kubesim_clusters(["c"])
    core = _core(sim, "c")
    sim["c"].requests.clear()

    core.list_namespace()
    core.read_namespace("default")
    core.create_namespaced_config_map("default", {"metadata": {"name": "counted"}})

    assert sim["c"].requests[("list", "namespaces")] == 1
    assert sim["c"].requests[("get", "namespaces")] == 1
    assert sim["c"].requests[("create", "configmaps")] == 1


def test_three_clusters_start_quickly(tmp_path):
    started = time.monotonic()
    with SimulatedClusters([ClusterSpec("a"), ClusterSpec("b"), ClusterSpec("c")], tmp_path / "kubeconfig") as sim:
        elapsed = time.monotonic() - started
        assert len(sim) == 3

    assert elapsed < 2.0, f"three clusters took {elapsed:.2f}s to start"


def test_coredns_seed_matches_kind(kubesim_clusters):
    cluster = kubesim_clusters(["c"])["c"]

    corefile = cluster.get_object("v1", "ConfigMap", "coredns", "kube-system")["data"]["Corefile"]
    deployment = cluster.get_object("apps/v1", "Deployment", "coredns", "kube-system")

    assert corefile == KIND_COREFILE
    assert "\tkubernetes cluster.local in-addr.arpa ip6.arpa {\n\t\tpods insecure\n" in corefile
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == "registry.k8s.io/coredns/coredns:v1.12.0"
    assert container["args"] == ["-conf", "/etc/coredns/Corefile"]
    assert deployment["spec"]["template"]["metadata"]["labels"] == {"k8s-app": "kube-dns"}


def test_kube_dns_seed(kubesim_clusters):
    sim = kubesim_clusters([ClusterSpec("new", dns="kube-dns"), ClusterSpec("old", dns="kube-dns-legacy")])

    new = sim["new"].get_object("apps/v1", "Deployment", "kube-dns", "kube-system")
    old = sim["old"].get_object("apps/v1", "Deployment", "kube-dns", "kube-system")

    assert [c["name"] for c in new["spec"]["template"]["spec"]["containers"]] == ["kubedns", "dnsmasq", "sidecar"]
    assert new["spec"]["template"]["spec"]["containers"][0]["image"].endswith(":1.14.13")
    assert old["spec"]["template"]["spec"]["containers"][0]["image"].endswith(":1.4")
    for cluster in sim:
        assert cluster.get_object("v1", "ConfigMap", "kube-dns", "kube-system") is None
        assert cluster.get_object("apps/v1", "Deployment", "coredns", "kube-system") is None


def test_ready_delay(kubesim_clusters):
    cluster = kubesim_clusters([ClusterSpec("c", ready_delay=0.5)])["c"]
    cluster.put_object({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "slow", "namespace": "default"},
                        "spec": {"containers": [{"name": "c", "image": "busybox"}]}})

    time.sleep(0.2)
    assert cluster.get_object("v1", "Pod", "slow")["status"]["phase"] == "Pending"
    wait_for(lambda: cluster.get_object("v1", "Pod", "slow")["status"]["phase"] == "Running", what="Running pod")


def test_watch_list_initial_events_bookmark(kubesim_clusters, tmp_path):
    cluster = kubesim_clusters(["c"])["c"]
    ca_file = tmp_path / "ca.crt"
    ca_file.write_text(cluster.ca_pem)
    cert, key = tmp_path / "client.crt", tmp_path / "client.key"
    cert.write_bytes(cluster.client_cert_pem)
    key.write_bytes(cluster.client_key_pem)

    response = requests.get(
        cluster.url + "/api/v1/namespaces", verify=str(ca_file), cert=(str(cert), str(key)), stream=True, timeout=5,
        params={"watch": "true", "sendInitialEvents": "true", "resourceVersionMatch": "NotOlderThan",
                "allowWatchBookmarks": "true", "timeoutSeconds": "1"})
    events = [json.loads(line) for line in response.iter_lines() if line]

    added = [e["object"]["metadata"]["name"] for e in events if e["type"] == "ADDED"]
    assert {"default", "kube-system"} <= set(added)
    bookmark = next(e for e in events if e["type"] == "BOOKMARK")
    assert bookmark["object"]["metadata"]["annotations"] == {"k8s.io/initial-events-end": "true"}
    assert events.index(bookmark) == len(added)


def test_disabled_controllers(kubesim_clusters):
    cluster = kubesim_clusters([ClusterSpec("c", controllers={"service"})])["c"]

    assert cluster.get_object("apps/v1", "Deployment", "coredns", "kube-system") is None
    cluster.put_object({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "default"},
                        "spec": {"containers": [{"name": "c", "image": "busybox"}]}})
    time.sleep(0.2)
    assert cluster.get_object("v1", "Pod", "p")["status"]["phase"] == "Pending"


def test_cli_up_writes_kubeconfig_and_stops(tmp_path):
    kubeconfig = tmp_path / "kubeconfig"
    process = subprocess.Popen(
        [sys.executable, "-m", "kubesim", "up", "--cluster", "host", "--cluster", "member1",
         "--context-name", "host=federation-e2e-kind-a", "--load-balancer", "host", "--require-token", "member1",
         "--kubeconfig", str(kubeconfig)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        lines = [process.stdout.readline() for _ in range(4)]
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=10)

    assert "SIMULATED" in lines[0]
    assert lines[1].startswith("cluster host: context federation-e2e-kind-a listening on https://127.0.0.1:")
    assert lines[2].startswith("cluster member1: context member1 listening on https://127.0.0.1:")
    contexts = [c["name"] for c in yaml.safe_load(kubeconfig.read_text())["contexts"]]
    assert contexts == ["federation-e2e-kind-a", "member1"]
    assert process.returncode == 0
