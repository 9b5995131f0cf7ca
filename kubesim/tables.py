"""meta.k8s.io/v1 Table rendering, used when kubectl asks for `as=Table`."""

from __future__ import annotations

import datetime
from typing import Any, Callable

Column = tuple[str, str, Callable[[dict[str, Any]], Any]]


def _age(obj: dict[str, Any]) -> str:
    created = (obj.get("metadata") or {}).get("creationTimestamp")
    if not created:
        return "<unknown>"
    then = datetime.datetime.strptime(created, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.timezone.utc)
    seconds = int((datetime.datetime.now(datetime.timezone.utc) - then).total_seconds())
    if seconds < 120:
        return f"{max(seconds, 0)}s"
    if seconds < 7200:
        return f"{seconds // 60}m"
    if seconds < 172800:
        return f"{seconds // 3600}h"
    return f"{seconds // 86400}d"


def _ready_pods(pod: dict[str, Any]) -> str:
    statuses = (pod.get("status") or {}).get("containerStatuses") or []
    total = len((pod.get("spec") or {}).get("containers") or [])
    ready = sum(1 for s in statuses if s.get("ready"))
    return f"{ready}/{total}"


def _service_ports(service: dict[str, Any]) -> str:
    ports = []
    for port in (service.get("spec") or {}).get("ports") or []:
        text = str(port.get("port"))
        if port.get("nodePort"):
            text += f":{port['nodePort']}"
        ports.append(f"{text}/{port.get('protocol', 'TCP')}")
    return ",".join(ports) or "<none>"


def _external_ip(service: dict[str, Any]) -> str:
    ingress = ((service.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
    if ingress:
        return ",".join(i.get("ip") or i.get("hostname", "") for i in ingress)
    if (service.get("spec") or {}).get("type") == "LoadBalancer":
        return "<pending>"
    return "<none>"


def _cluster_status(cluster: dict[str, Any]) -> str:
    # The federation kubectl printer showed the Ready condition as Ready or NotReady, and Unknown before any probe.
    for condition in (cluster.get("status") or {}).get("conditions") or []:
        if condition.get("type") == "Ready":
            return "Ready" if condition.get("status") == "True" else "NotReady"
    return "Unknown"


def _get(path: str) -> Callable[[dict[str, Any]], Any]:
    def read(obj: dict[str, Any]) -> Any:
        node: Any = obj
        for part in path.split("."):
            node = node.get(part) if isinstance(node, dict) else None
        return node if node is not None else ""
    return read


_NAME: Column = ("Name", "string", lambda o: o["metadata"]["name"])
_AGE: Column = ("Age", "string", _age)

COLUMNS: dict[str, list[Column]] = {
    "Namespace": [_NAME, ("Status", "string", _get("status.phase")), _AGE],
    "Pod": [_NAME, ("Ready", "string", _ready_pods), ("Status", "string", _get("status.phase")),
            ("Restarts", "string", lambda o: "0"), _AGE],
    "Deployment": [
        _NAME,
        ("Ready", "string", lambda o: f"{(o.get('status') or {}).get('readyReplicas', 0)}/"
                                      f"{(o.get('spec') or {}).get('replicas', 0)}"),
        ("Up-to-date", "integer", lambda o: (o.get("status") or {}).get("updatedReplicas", 0)),
        ("Available", "integer", lambda o: (o.get("status") or {}).get("availableReplicas", 0)),
        _AGE],
    "ReplicaSet": [
        _NAME,
        ("Desired", "integer", _get("spec.replicas")),
        ("Current", "integer", lambda o: (o.get("status") or {}).get("replicas", 0)),
        ("Ready", "integer", lambda o: (o.get("status") or {}).get("readyReplicas", 0)),
        _AGE],
    "Service": [_NAME, ("Type", "string", _get("spec.type")), ("Cluster-IP", "string", _get("spec.clusterIP")),
                ("External-IP", "string", _external_ip), ("Port(s)", "string", _service_ports), _AGE],
    "Secret": [_NAME, ("Type", "string", _get("type")),
               ("Data", "integer", lambda o: len(o.get("data") or {})), _AGE],
    "ConfigMap": [_NAME, ("Data", "integer", lambda o: len(o.get("data") or {})), _AGE],
    "PersistentVolumeClaim": [_NAME, ("Status", "string", _get("status.phase")),
                              ("Volume", "string", _get("spec.volumeName")),
                              ("StorageClass", "string", _get("spec.storageClassName")), _AGE],
    "Node": [_NAME, ("Status", "string", lambda o: "Ready"), ("Roles", "string", lambda o: "control-plane"),
             _AGE, ("Version", "string", _get("status.nodeInfo.kubeletVersion"))],
    "Event": [
        ("Last Seen", "string", _age), ("Type", "string", _get("type")), ("Reason", "string", _get("reason")),
        ("Object", "string", lambda o: f"{(o.get('involvedObject') or {}).get('kind', '').lower()}/"
                                       f"{(o.get('involvedObject') or {}).get('name', '')}"),
        ("Message", "string", _get("message"))],
    "Cluster": [_NAME, ("Status", "string", _cluster_status), ("Age", "string", _age)],
}


def to_table(items: list[dict[str, Any]], kind: str, list_metadata: dict[str, Any],
             include_object: str = "PartialObjectMetadata") -> dict[str, Any]:
    columns = COLUMNS.get(kind, [_NAME, _AGE])
    rows = []
    for item in items:
        row: dict[str, Any] = {"cells": [fn(item) for _, _, fn in columns]}
        if include_object == "Object":
            row["object"] = item
        elif include_object != "None":
            row["object"] = {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
                             "metadata": item.get("metadata", {})}
        rows.append(row)
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": list_metadata,
        "columnDefinitions": [
            {"name": name, "type": kind_, "format": "name" if name == "Name" else "",
             "description": "", "priority": 0}
            for name, kind_, _ in columns],
        "rows": rows,
    }


def wants_table(accept: str) -> bool:
    return "as=Table" in accept
