"""Per-kind defaulting and field rules that the real API server applies on write.

These run inside the store's lock, so allocators see every committed object.
"""

from __future__ import annotations

import base64
import copy
import ipaddress
from typing import TYPE_CHECKING, Any

from . import errors
from .ports import reserve_node_port
from .resources import ResourceType

if TYPE_CHECKING:
    from .store import Store

SERVICE_CIDR = ipaddress.ip_network("10.96.0.0/12")
NODE_PORT_RANGE = range(30000, 32768)
# Kind's default Service CIDR reserves .1 for the kubernetes Service and .10 for DNS.
DNS_SERVICE_IP = "10.96.0.10"


class Strategies:
    """Defaulting hooks dispatched by kind."""

    def prepare_create(self, store: "Store", resource: ResourceType, obj: dict[str, Any], *,
                       keep_status: bool) -> None:
        kind = resource.kind
        if not keep_status and "status" in resource.subresources:
            obj.pop("status", None)

        if kind == "Namespace":
            obj.setdefault("spec", {}).setdefault("finalizers", ["kubernetes"])
            obj.setdefault("status", {}).setdefault("phase", "Active")
            labels = obj["metadata"].setdefault("labels", {})
            labels["kubernetes.io/metadata.name"] = obj["metadata"]["name"]
        elif kind == "Secret":
            _fold_string_data(obj)
            obj.setdefault("type", "Opaque")
        elif kind == "Deployment":
            _default_deployment(obj)
        elif kind in ("ReplicaSet", "ReplicationController"):
            _default_replica_owner(obj, kind)
        elif kind == "Pod":
            _default_pod_spec(obj.setdefault("spec", {}))
            obj.setdefault("status", {}).setdefault("phase", "Pending")
        elif kind == "Service":
            _default_service(store, resource, obj, None)
        elif kind == "PersistentVolumeClaim":
            obj.setdefault("status", {}).setdefault("phase", "Pending")
            obj.setdefault("spec", {}).setdefault("volumeMode", "Filesystem")
        elif kind == "PersistentVolume":
            obj.setdefault("status", {}).setdefault("phase", "Available")
        elif kind == "ServiceAccount":
            pass

    def prepare_update(self, store: "Store", resource: ResourceType, old: dict[str, Any],
                       new: dict[str, Any]) -> None:
        kind = resource.kind
        if kind == "Secret":
            _fold_string_data(new)
            new.setdefault("type", old.get("type", "Opaque"))
        elif kind == "Namespace":
            labels = new["metadata"].setdefault("labels", {})
            labels["kubernetes.io/metadata.name"] = new["metadata"]["name"]
            new.setdefault("spec", copy.deepcopy(old.get("spec", {})))
            new.setdefault("status", copy.deepcopy(old.get("status", {})))
        elif kind == "Deployment":
            _default_deployment(new)
        elif kind in ("ReplicaSet", "ReplicationController"):
            _default_replica_owner(new, kind)
        elif kind == "Pod":
            _default_pod_spec(new.setdefault("spec", {}))
        elif kind == "Service":
            _default_service(store, resource, new, old)


def _fold_string_data(secret: dict[str, Any]) -> None:
    string_data = secret.pop("stringData", None)
    if string_data:
        data = secret.setdefault("data", {})
        for key, value in string_data.items():
            data[key] = base64.b64encode(str(value).encode()).decode()


def _default_pod_spec(spec: dict[str, Any]) -> None:
    spec.setdefault("restartPolicy", "Always")
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("terminationGracePeriodSeconds", 30)
    spec.setdefault("schedulerName", "default-scheduler")
    spec.setdefault("securityContext", {})
    for container in spec.get("containers") or []:
        image = container.get("image", "")
        latest = ":" not in image.rsplit("/", 1)[-1] or image.endswith(":latest")
        container.setdefault("imagePullPolicy", "Always" if latest else "IfNotPresent")
        container.setdefault("terminationMessagePath", "/dev/termination-log")
        container.setdefault("terminationMessagePolicy", "File")
        container.setdefault("resources", {})
        for port in container.get("ports") or []:
            port.setdefault("protocol", "TCP")


def _default_deployment(obj: dict[str, Any]) -> None:
    spec = obj.setdefault("spec", {})
    spec.setdefault("replicas", 1)
    spec.setdefault("revisionHistoryLimit", 10)
    spec.setdefault("progressDeadlineSeconds", 600)
    strategy = spec.setdefault("strategy", {"type": "RollingUpdate"})
    if strategy.get("type", "RollingUpdate") == "RollingUpdate":
        strategy["type"] = "RollingUpdate"
        strategy.setdefault("rollingUpdate", {"maxUnavailable": "25%", "maxSurge": "25%"})
    template = spec.setdefault("template", {})
    template.setdefault("metadata", {})
    _default_pod_spec(template.setdefault("spec", {}))
    _require_selector_match(obj, "Deployment")


def _default_replica_owner(obj: dict[str, Any], kind: str) -> None:
    spec = obj.setdefault("spec", {})
    spec.setdefault("replicas", 1)
    template = spec.setdefault("template", {})
    template.setdefault("metadata", {})
    _default_pod_spec(template.setdefault("spec", {}))
    if kind == "ReplicationController" and not spec.get("selector"):
        spec["selector"] = dict(template["metadata"].get("labels") or {})
    if kind == "ReplicaSet":
        _require_selector_match(obj, kind)


def _require_selector_match(obj: dict[str, Any], kind: str) -> None:
    from .selectors import match_label_selector_object

    spec = obj["spec"]
    name = obj["metadata"].get("name", "")
    selector = spec.get("selector")
    if not selector:
        raise errors.invalid("apps", kind, name, [
            {"field": "spec.selector", "reason": "FieldValueRequired", "message": "Required value"}])
    labels = spec["template"]["metadata"].get("labels") or {}
    if not match_label_selector_object(selector, labels):
        raise errors.invalid("apps", kind, name, [
            {"field": "spec.template.metadata.labels",
             "message": f"Invalid value: {labels}: `selector` does not match template `labels`"}])


def _default_service(store: "Store", resource: ResourceType, obj: dict[str, Any],
                     old: dict[str, Any] | None) -> None:
    spec = obj.setdefault("spec", {})
    old_spec = (old or {}).get("spec") or {}
    name = obj["metadata"].get("name", "")
    spec.setdefault("type", "ClusterIP")
    spec.setdefault("sessionAffinity", "None")
    service_type = spec["type"]

    for port in spec.get("ports") or []:
        port.setdefault("protocol", "TCP")
        if service_type != "ExternalName":
            port.setdefault("targetPort", port.get("port"))

    if service_type == "ExternalName":
        return

    if old_spec.get("clusterIP") and not spec.get("clusterIP"):
        spec["clusterIP"] = old_spec["clusterIP"]
    if not spec.get("clusterIP"):
        spec["clusterIP"] = _allocate_cluster_ip(store, resource)
    if spec["clusterIP"] != "None":
        spec["clusterIPs"] = [spec["clusterIP"]]
    spec.setdefault("ipFamilies", ["IPv4"])
    spec.setdefault("ipFamilyPolicy", "SingleStack")
    spec.setdefault("internalTrafficPolicy", "Cluster")

    if service_type in ("NodePort", "LoadBalancer"):
        spec.setdefault("externalTrafficPolicy", "Cluster")
        _allocate_node_ports(store, resource, obj, old_spec, name)
    else:
        for port in spec.get("ports") or []:
            port.pop("nodePort", None)

    if service_type == "LoadBalancer":
        spec.setdefault("allocateLoadBalancerNodePorts", True)
    obj.setdefault("status", (old or {}).get("status") or {"loadBalancer": {}})


def _allocate_cluster_ip(store: "Store", resource: ResourceType) -> str:
    services, _ = store.list(resource)
    taken = {s["spec"].get("clusterIP") for s in services}
    taken.add(DNS_SERVICE_IP)
    for offset in range(1, SERVICE_CIDR.num_addresses - 1):
        candidate = str(SERVICE_CIDR.network_address + offset)
        if candidate not in taken:
            return candidate
    raise errors.StatusError(500, "InternalError", "the service cluster IP range 10.96.0.0/12 is exhausted")


def _allocate_node_ports(store: "Store", resource: ResourceType, obj: dict[str, Any],
                         old_spec: dict[str, Any], name: str) -> None:
    services, _ = store.list(resource)
    me = (obj["metadata"].get("namespace"), name)
    taken = {
        port.get("nodePort")
        for s in services if (s["metadata"].get("namespace"), s["metadata"]["name"]) != me
        for port in s["spec"].get("ports") or []
    }
    old_ports = {(p.get("port"), p.get("protocol", "TCP")): p.get("nodePort")
                 for p in old_spec.get("ports") or []}

    causes = []
    for index, port in enumerate(obj["spec"].get("ports") or []):
        requested = port.get("nodePort")
        if requested:
            if requested not in NODE_PORT_RANGE:
                causes.append({"field": f"spec.ports[{index}].nodePort",
                               "message": f"Invalid value: {requested}: provided port is not in the valid "
                                          f"range. The range of valid ports is 30000-32767"})
            elif requested in taken:
                causes.append({"field": f"spec.ports[{index}].nodePort",
                               "message": f"Invalid value: {requested}: provided port is already allocated"})
            taken.add(requested)
            continue

        previous = old_ports.get((port.get("port"), port.get("protocol", "TCP")))
        if previous and previous not in taken:
            port["nodePort"] = previous
            taken.add(previous)
            continue

        candidate = reserve_node_port(NODE_PORT_RANGE, taken)
        if candidate is None:
            causes.append({"field": f"spec.ports[{index}].nodePort", "message": "the node port range 30000-32767 is exhausted"})
            continue
        port["nodePort"] = candidate
        taken.add(candidate)

    if causes:
        raise errors.invalid("", "Service", name, causes)
