"""Service load balancer and Endpoints controllers.

ClusterIPs and NodePorts are allocated by the API server on write (see
strategies.py); this controller fills `status.loadBalancer` and Endpoints.
"""

from __future__ import annotations

import ipaddress
import os
import threading
from typing import Any

from .. import errors
from ..ports import ports_free
from ..selectors import match_service_selector
from .base import Controller
from .deployment import pod_is_ready

# Load balancer addresses are loopback addresses, which need no setup on Linux.
# Each process starts at its own offset in 127.0.0.0/8, so two test runs at once rarely probe the
# same address; the probe below settles the rest.
FIRST_LOAD_BALANCER_ADDRESS = ipaddress.ip_address("127.0.0.2") + (os.getpid() % 4000) * 100

# Addresses handed out by any simulated cluster of this process. Two clusters, or a cluster and the
# one a previous test stopped, must not share an address: their federation API servers would both
# try to listen on it.
_RESERVED: set[str] = set()
_RESERVED_LOCK = threading.Lock()


class ServiceController(Controller):
    name = "service"
    watches = ("services", "pods", "endpoints")

    def __init__(self, store, cluster=None, load_balancer: bool = False, node_name: str = "node") -> None:
        super().__init__(store, cluster)
        self.load_balancer = load_balancer
        self.node_name = node_name
        self._services = store.registry.by_path("", "v1", "services")
        self._endpoints = store.registry.by_path("", "v1", "endpoints")
        self._pods = store.registry.by_path("", "v1", "pods")

    def reconcile(self) -> float | None:
        services, _ = self.store.list(self._services)
        self._assign_load_balancers(services)
        for service in services:
            self._sync_endpoints(service)
        self._remove_orphan_endpoints(services)
        return None

    def _assign_load_balancers(self, services: list[dict[str, Any]]) -> None:
        in_use = {
            ingress.get("ip")
            for s in services
            for ingress in ((s.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
        }
        for service in services:
            spec = service.get("spec") or {}
            balancer = (service.get("status") or {}).get("loadBalancer") or {}
            wants = self.load_balancer and spec.get("type") == "LoadBalancer"
            if wants and not balancer.get("ingress"):
                ports = [port.get("port") for port in spec.get("ports") or [] if port.get("port")]
                address = self._free_address(in_use, ports)
                in_use.add(address)
                service["status"] = {"loadBalancer": {"ingress": [{"ip": address, "ipMode": "VIP"}]}}
                self._write_status(service)
            elif not wants and balancer.get("ingress"):
                service["status"] = {"loadBalancer": {}}
                self._write_status(service)

    @staticmethod
    def _free_address(in_use: set[str | None], ports: list[int]) -> str:
        with _RESERVED_LOCK:
            candidate = FIRST_LOAD_BALANCER_ADDRESS
            while str(candidate) in in_use or str(candidate) in _RESERVED or not ports_free(str(candidate), ports):
                candidate += 1
            _RESERVED.add(str(candidate))
        return str(candidate)

    def _write_status(self, service: dict[str, Any]) -> None:
        meta = service["metadata"]
        try:
            self.store.update(self._services, meta["namespace"], meta["name"], service, subresource="status")
        except errors.StatusError as exc:
            if exc.code not in (404, 409):
                raise
            self.wake()

    def _sync_endpoints(self, service: dict[str, Any]) -> None:
        meta = service["metadata"]
        spec = service.get("spec") or {}
        selector = spec.get("selector")
        if not selector or spec.get("type") == "ExternalName":
            return

        pods, _ = self.store.list(self._pods, meta["namespace"], lambda p: match_service_selector(
            selector, p["metadata"].get("labels") or {}) and not p["metadata"].get("deletionTimestamp"))
        ready = [p for p in pods if pod_is_ready(p) and (p.get("status") or {}).get("podIP")]
        not_ready = [p for p in pods if p not in ready and (p.get("status") or {}).get("podIP")]

        subsets = []
        if ready or not_ready:
            ports = [self._endpoint_port(port, pods[0]) for port in spec.get("ports") or []]
            subset: dict[str, Any] = {"ports": ports}
            if ready:
                subset["addresses"] = [self._address(p) for p in ready]
            if not_ready:
                subset["notReadyAddresses"] = [self._address(p) for p in not_ready]
            subsets.append(subset)

        desired = {
            "apiVersion": "v1", "kind": "Endpoints",
            "metadata": {"name": meta["name"], "namespace": meta["namespace"],
                         "labels": dict(meta.get("labels") or {})},
        }
        if subsets:
            desired["subsets"] = subsets

        existing = self.store.try_get(self._endpoints, meta["namespace"], meta["name"])
        try:
            if existing is None:
                self.store.create(self._endpoints, meta["namespace"], desired)
            elif existing.get("subsets") != desired.get("subsets") or \
                    existing["metadata"].get("labels") != desired["metadata"]["labels"]:
                existing["metadata"]["labels"] = desired["metadata"]["labels"]
                existing.pop("subsets", None)
                if subsets:
                    existing["subsets"] = subsets
                self.store.update(self._endpoints, meta["namespace"], meta["name"], existing)
        except errors.StatusError as exc:
            if exc.code not in (403, 404, 409):
                raise
            self.wake()

    def _address(self, pod: dict[str, Any]) -> dict[str, Any]:
        meta = pod["metadata"]
        return {"ip": pod["status"]["podIP"], "nodeName": self.node_name,
                "targetRef": {"kind": "Pod", "namespace": meta["namespace"], "name": meta["name"],
                              "uid": meta["uid"]}}

    @staticmethod
    def _endpoint_port(port: dict[str, Any], pod: dict[str, Any]) -> dict[str, Any]:
        target = port.get("targetPort", port.get("port"))
        if isinstance(target, str) and not target.isdigit():
            named = [p for c in pod["spec"].get("containers") or [] for p in c.get("ports") or []
                     if p.get("name") == target]
            target = named[0]["containerPort"] if named else port.get("port")
        result = {"port": int(target), "protocol": port.get("protocol", "TCP")}
        if port.get("name"):
            result["name"] = port["name"]
        return result

    def _remove_orphan_endpoints(self, services: list[dict[str, Any]]) -> None:
        wanted = {(s["metadata"]["namespace"], s["metadata"]["name"]) for s in services}
        endpoints, _ = self.store.list(self._endpoints)
        for item in endpoints:
            key = (item["metadata"]["namespace"], item["metadata"]["name"])
            if key not in wanted:
                try:
                    self.store.delete(self._endpoints, *key)
                except errors.StatusError as exc:
                    if exc.code != 404:
                        raise


def next_load_balancer_address(ports: list[int]) -> str:
    """Return the address the next LoadBalancer Service of this process will get, without reserving it.

    Tests use it to issue a serving certificate for that address before the Service exists.
    """
    with _RESERVED_LOCK:
        candidate = FIRST_LOAD_BALANCER_ADDRESS
        while str(candidate) in _RESERVED or not ports_free(str(candidate), ports):
            candidate += 1
    return str(candidate)
