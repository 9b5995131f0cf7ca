"""Objects a fresh kind cluster has, written straight into the store at start-up."""

from __future__ import annotations

from typing import Any

from .store import Store

SEEDED_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")

# CoreDNS configuration as kind (through kubeadm) writes it for cluster.local.
KIND_COREFILE = (
    ".:53 {\n"
    "\terrors\n"
    "\thealth {\n"
    "\t\tlameduck 5s\n"
    "\t}\n"
    "\tready\n"
    "\tkubernetes cluster.local in-addr.arpa ip6.arpa {\n"
    "\t\tpods insecure\n"
    "\t\tfallthrough in-addr.arpa ip6.arpa\n"
    "\t\tttl 30\n"
    "\t}\n"
    "\tprometheus :9153\n"
    "\tforward . /etc/resolv.conf {\n"
    "\t\tmax_concurrent 1000\n"
    "\t}\n"
    "\tcache 30 {\n"
    "\t\tdisable success cluster.local\n"
    "\t\tdisable denial cluster.local\n"
    "\t}\n"
    "\tloop\n"
    "\treload\n"
    "\tloadbalance\n"
    "}\n"
)

COREDNS_IMAGE = "registry.k8s.io/coredns/coredns:v1.12.0"
KUBE_DNS_TAG = "1.14.13"
LEGACY_KUBE_DNS_IMAGE = "gcr.io/google_containers/kubedns-amd64:1.4"
DEFAULT_STORAGE_CLASS = "standard"


def _namespace(name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}


def seed_namespaces(store: Store) -> None:
    for name in SEEDED_NAMESPACES:
        store.put(_namespace(name))


def seed_kubernetes_service(store: Store, port: int) -> None:
    store.put({
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "kubernetes", "namespace": "default",
                     "labels": {"component": "apiserver", "provider": "kubernetes"}},
        "spec": {"clusterIP": "10.96.0.1", "type": "ClusterIP",
                 "ports": [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": 6443}]},
    })
    store.put({
        "apiVersion": "v1", "kind": "Endpoints",
        "metadata": {"name": "kubernetes", "namespace": "default",
                     "labels": {"endpointslice.kubernetes.io/skip-mirror": "true"}},
        "subsets": [{"addresses": [{"ip": "127.0.0.1"}],
                     "ports": [{"name": "https", "port": port, "protocol": "TCP"}]}],
    })


def node(cluster_name: str) -> dict[str, Any]:
    name = f"{cluster_name}-control-plane"
    return {
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": name, "labels": {
            "kubernetes.io/hostname": name, "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64",
            "node-role.kubernetes.io/control-plane": ""}},
        "spec": {"podCIDR": "10.244.0.0/24", "podCIDRs": ["10.244.0.0/24"],
                 "providerID": f"kind://docker/{cluster_name}/{name}"},
        "status": {
            "addresses": [{"type": "InternalIP", "address": "127.0.0.1"}, {"type": "Hostname", "address": name}],
            "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady",
                            "message": "kubelet is posting ready status"}],
            "capacity": {"cpu": "2", "memory": "24Gi", "pods": "110", "ephemeral-storage": "100Gi"},
            "allocatable": {"cpu": "2", "memory": "24Gi", "pods": "110", "ephemeral-storage": "100Gi"},
            "nodeInfo": {"kubeletVersion": "v1.37.0", "kubeProxyVersion": "", "operatingSystem": "linux",
                         "architecture": "amd64", "containerRuntimeVersion": "containerd://2.1.0",
                         "osImage": "kubesim", "kernelVersion": "", "machineID": "", "systemUUID": "",
                         "bootID": ""},
        },
    }


def default_storage_class() -> dict[str, Any]:
    return {
        "apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
        "metadata": {"name": DEFAULT_STORAGE_CLASS,
                     "annotations": {"storageclass.kubernetes.io/is-default-class": "true"}},
        "provisioner": "rancher.io/local-path",
        "reclaimPolicy": "Delete",
        "volumeBindingMode": "WaitForFirstConsumer",
    }


def cluster_roles() -> list[dict[str, Any]]:
    everything = [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]},
                  {"nonResourceURLs": ["*"], "verbs": ["*"]}]
    roles = [{"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
              "metadata": {"name": name, "labels": {"kubernetes.io/bootstrapping": "rbac-defaults"}},
              "rules": everything if name == "cluster-admin" else
              [{"apiGroups": ["*"], "resources": ["*"], "verbs": verbs}]}
             for name, verbs in (("cluster-admin", ["*"]), ("admin", ["*"]), ("edit", ["*"]),
                                 ("view", ["get", "list", "watch"]))]
    roles.append({
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
        "metadata": {"name": "cluster-admin", "labels": {"kubernetes.io/bootstrapping": "rbac-defaults"}},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cluster-admin"},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": "system:masters"}],
    })
    return roles


def _dns_service() -> dict[str, Any]:
    return {
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "kube-dns", "namespace": "kube-system",
                     "labels": {"k8s-app": "kube-dns", "kubernetes.io/cluster-service": "true",
                                "kubernetes.io/name": "CoreDNS"}},
        "spec": {"clusterIP": "10.96.0.10", "selector": {"k8s-app": "kube-dns"}, "ports": [
            {"name": "dns", "port": 53, "protocol": "UDP", "targetPort": 53},
            {"name": "dns-tcp", "port": 53, "protocol": "TCP", "targetPort": 53},
            {"name": "metrics", "port": 9153, "protocol": "TCP", "targetPort": 9153}]},
    }


def _dns_deployment(name: str, containers: list[dict[str, Any]], volumes: list[dict[str, Any]]) -> dict[str, Any]:
    labels = {"k8s-app": "kube-dns"}
    return {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "namespace": "kube-system", "labels": dict(labels)},
        "spec": {
            "replicas": 1 if name == "kube-dns" else 2,
            "selector": {"matchLabels": dict(labels)},
            "template": {"metadata": {"labels": dict(labels)},
                         "spec": {"containers": containers, "volumes": volumes,
                                  "dnsPolicy": "Default", "serviceAccountName": name,
                                  "priorityClassName": "system-cluster-critical"}},
        },
    }


def coredns_objects() -> list[dict[str, Any]]:
    container = {
        "name": "coredns", "image": COREDNS_IMAGE, "args": ["-conf", "/etc/coredns/Corefile"],
        "ports": [{"name": "dns", "containerPort": 53, "protocol": "UDP"},
                  {"name": "dns-tcp", "containerPort": 53, "protocol": "TCP"},
                  {"name": "metrics", "containerPort": 9153, "protocol": "TCP"}],
        "volumeMounts": [{"name": "config-volume", "mountPath": "/etc/coredns", "readOnly": True}],
    }
    volumes = [{"name": "config-volume",
                "configMap": {"name": "coredns", "items": [{"key": "Corefile", "path": "Corefile"}]}}]
    return [
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "coredns", "namespace": "kube-system"}},
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "coredns", "namespace": "kube-system"},
         "data": {"Corefile": KIND_COREFILE}},
        _dns_deployment("coredns", [container], volumes),
    ]


def kube_dns_objects(legacy: bool) -> list[dict[str, Any]]:
    if legacy:
        kubedns = {"name": "kubedns", "image": LEGACY_KUBE_DNS_IMAGE,
                   "args": ["--domain=cluster.local.", "--dns-port=10053"],
                   "ports": [{"name": "dns-local", "containerPort": 10053, "protocol": "UDP"}]}
        return [_dns_deployment("kube-dns", [kubedns], [])]

    kubedns = {
        "name": "kubedns", "image": f"registry.k8s.io/k8s-dns-kube-dns-amd64:{KUBE_DNS_TAG}",
        "args": ["--domain=cluster.local.", "--dns-port=10053", "--config-dir=/kube-dns-config", "--v=2"],
        "ports": [{"name": "dns-local", "containerPort": 10053, "protocol": "UDP"},
                  {"name": "dns-tcp-local", "containerPort": 10053, "protocol": "TCP"}],
        "volumeMounts": [{"name": "kube-dns-config", "mountPath": "/kube-dns-config"}],
    }
    dnsmasq = {
        "name": "dnsmasq", "image": f"registry.k8s.io/k8s-dns-dnsmasq-nanny-amd64:{KUBE_DNS_TAG}",
        "args": ["-v=2", "-logtostderr", "-configDir=/etc/k8s/dns/dnsmasq-nanny", "-restartDnsmasq=true", "--",
                 "-k", "--cache-size=1000", "--log-facility=-", "--server=/cluster.local/127.0.0.1#10053"],
        "ports": [{"name": "dns", "containerPort": 53, "protocol": "UDP"},
                  {"name": "dns-tcp", "containerPort": 53, "protocol": "TCP"}],
        "volumeMounts": [{"name": "kube-dns-config", "mountPath": "/etc/k8s/dns/dnsmasq-nanny"}],
    }
    sidecar = {
        "name": "sidecar", "image": f"registry.k8s.io/k8s-dns-sidecar-amd64:{KUBE_DNS_TAG}",
        "args": ["--v=2", "--logtostderr",
                 "--probe=kubedns,127.0.0.1:10053,kubernetes.default.svc.cluster.local,5,SRV",
                 "--probe=dnsmasq,127.0.0.1:53,kubernetes.default.svc.cluster.local,5,SRV"],
        "ports": [{"name": "metrics", "containerPort": 10054, "protocol": "TCP"}],
    }
    volumes = [{"name": "kube-dns-config", "configMap": {"name": "kube-dns", "optional": True}}]
    return [
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "kube-dns", "namespace": "kube-system"}},
        _dns_deployment("kube-dns", [kubedns, dnsmasq, sidecar], volumes),
    ]


def seed_cluster(store: Store, cluster_name: str, dns: str) -> None:
    """Write the node, RBAC defaults, storage class and DNS add-on of a kind cluster."""
    store.put(node(cluster_name))
    for role in cluster_roles():
        store.put(role)
    store.put(default_storage_class())
    store.put(_dns_service())
    dns_objects = coredns_objects() if dns == "coredns" else kube_dns_objects(legacy=dns == "kube-dns-legacy")
    for obj in dns_objects:
        store.put(obj)
