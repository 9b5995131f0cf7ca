"""Deployment, ReplicaSet and ReplicationController controllers, plus the kubelet's pod status.

A template change creates a new ReplicaSet and scales the old ones to zero in
one step, so a rollout finishes as soon as the new pods are Ready.
"""

from __future__ import annotations

import copy
import hashlib
import ipaddress
import json
import math
import time
import uuid
from typing import Any

from .. import errors
from ..selectors import match_label_selector_object, match_service_selector
from ..store import now_rfc3339
from .base import Controller
from .events import record_event

REVISION_ANNOTATION = "deployment.kubernetes.io/revision"
POD_CIDR = ipaddress.ip_network("10.244.0.0/16")


def owner_reference(owner: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": owner["apiVersion"], "kind": owner["kind"], "name": owner["metadata"]["name"],
        "uid": owner["metadata"]["uid"], "controller": True, "blockOwnerDeletion": True,
    }


def is_owned_by(obj: dict[str, Any], owner: dict[str, Any]) -> bool:
    uid = owner["metadata"]["uid"]
    return any(r.get("uid") == uid for r in obj["metadata"].get("ownerReferences") or [])


def template_hash(template: dict[str, Any]) -> str:
    digest = hashlib.sha256(json.dumps(template, sort_keys=True).encode()).hexdigest()
    # Real hashes are 10 characters from [bcdfghjklmnpqrstvwxz2456789]; any stable string works here.
    alphabet = "bcdfghjklmnpqrstvwxz2456789"
    number = int(digest[:16], 16)
    return "".join(alphabet[(number >> (5 * i)) % len(alphabet)] for i in range(10))


def pod_is_ready(pod: dict[str, Any]) -> bool:
    for condition in (pod.get("status") or {}).get("conditions") or []:
        if condition.get("type") == "Ready":
            return condition.get("status") == "True"
    return False


def _max_unavailable(deployment: dict[str, Any], replicas: int) -> int:
    strategy = deployment["spec"].get("strategy") or {}
    if strategy.get("type") == "Recreate":
        return replicas
    value = (strategy.get("rollingUpdate") or {}).get("maxUnavailable", "25%")
    if isinstance(value, str) and value.endswith("%"):
        return math.floor(replicas * int(value[:-1]) / 100)
    return int(value)


class DeploymentController(Controller):
    name = "deployment"
    watches = ("deployments", "replicasets", "replicationcontrollers", "pods", "persistentvolumeclaims", "secrets",
               "configmaps")

    def __init__(self, store, cluster=None, ready_delay: float = 0.0, node_name: str = "node") -> None:
        super().__init__(store, cluster)
        self.ready_delay = ready_delay
        self.node_name = node_name
        self._first_seen: dict[str, float] = {}
        self._deployments = store.registry.by_path("apps", "v1", "deployments")
        self._replicasets = store.registry.by_path("apps", "v1", "replicasets")
        self._controllers = store.registry.by_path("", "v1", "replicationcontrollers")
        self._pods = store.registry.by_path("", "v1", "pods")

    def reconcile(self) -> float | None:
        deployments, _ = self.store.list(self._deployments)
        for deployment in deployments:
            if not deployment["metadata"].get("deletionTimestamp"):
                self._sync_deployment(deployment)

        for resource in (self._replicasets, self._controllers):
            owners, _ = self.store.list(resource)
            for owner in owners:
                self._sync_replicas(resource, owner)

        next_due = self._run_pods()

        for owner_resource in (self._replicasets, self._controllers):
            owners, _ = self.store.list(owner_resource)
            for owner in owners:
                self._update_replica_status(owner_resource, owner)

        deployments, _ = self.store.list(self._deployments)
        for deployment in deployments:
            self._update_deployment_status(deployment)
        return next_due

    # Deployments.

    def _sync_deployment(self, deployment: dict[str, Any]) -> None:
        meta = deployment["metadata"]
        namespace = meta["namespace"]
        spec = deployment["spec"]
        template = copy.deepcopy(spec.get("template") or {})
        pod_hash = template_hash(template)

        owned, _ = self.store.list(self._replicasets, namespace, lambda rs: is_owned_by(rs, deployment))
        current = next((rs for rs in owned if rs["metadata"].get("labels", {}).get("pod-template-hash") == pod_hash),
                       None)
        revisions = [int(rs["metadata"].get("annotations", {}).get(REVISION_ANNOTATION, "0")) for rs in owned]
        replicas = spec.get("replicas", 1)

        if current is None:
            revision = max(revisions, default=0) + 1
            labels = dict(template.get("metadata", {}).get("labels") or {})
            labels["pod-template-hash"] = pod_hash
            template.setdefault("metadata", {})["labels"] = labels
            selector = copy.deepcopy(spec.get("selector") or {})
            selector.setdefault("matchLabels", {})["pod-template-hash"] = pod_hash
            replica_set = {
                "apiVersion": "apps/v1", "kind": "ReplicaSet",
                "metadata": {
                    "name": f"{meta['name']}-{pod_hash}", "namespace": namespace, "labels": labels,
                    "annotations": {REVISION_ANNOTATION: str(revision),
                                    "deployment.kubernetes.io/desired-replicas": str(replicas)},
                    "ownerReferences": [owner_reference(deployment)],
                },
                "spec": {"replicas": replicas, "selector": selector, "template": template},
            }
            if self._write(lambda: self.store.create(self._replicasets, namespace, replica_set)):
                record_event(self.store, deployment, "Normal", "ScalingReplicaSet",
                             f"Scaled up replica set {replica_set['metadata']['name']} from 0 to {replicas}",
                             "deployment-controller")
            self._set_revision(deployment, revision)
        else:
            if current["spec"].get("replicas") != replicas:
                current["spec"]["replicas"] = replicas
                self._write(lambda: self.store.update(self._replicasets, namespace, current["metadata"]["name"],
                                                      current))
            revision = int(current["metadata"].get("annotations", {}).get(REVISION_ANNOTATION, "1"))
            self._set_revision(deployment, revision)

        for old in owned:
            if old["metadata"].get("labels", {}).get("pod-template-hash") != pod_hash \
                    and old["spec"].get("replicas", 0) != 0:
                previous = old["spec"].get("replicas", 0)
                old["spec"]["replicas"] = 0
                if self._write(lambda o=old: self.store.update(self._replicasets, namespace, o["metadata"]["name"], o)):
                    record_event(self.store, deployment, "Normal", "ScalingReplicaSet",
                                 f"Scaled down replica set {old['metadata']['name']} from {previous} to 0",
                                 "deployment-controller")

    def _set_revision(self, deployment: dict[str, Any], revision: int) -> None:
        annotations = deployment["metadata"].get("annotations") or {}
        if annotations.get(REVISION_ANNOTATION) == str(revision):
            return
        fresh = self.store.try_get(self._deployments, deployment["metadata"]["namespace"],
                                   deployment["metadata"]["name"])
        if fresh is None:
            return
        fresh["metadata"].setdefault("annotations", {})[REVISION_ANNOTATION] = str(revision)
        self._write(lambda: self.store.update(self._deployments, fresh["metadata"]["namespace"],
                                              fresh["metadata"]["name"], fresh))
        deployment["metadata"] = fresh["metadata"]

    def _update_deployment_status(self, deployment: dict[str, Any]) -> None:
        meta = deployment["metadata"]
        namespace = meta["namespace"]
        spec = deployment["spec"]
        desired = spec.get("replicas", 1)
        pod_hash = template_hash(spec.get("template") or {})

        owned, _ = self.store.list(self._replicasets, namespace, lambda rs: is_owned_by(rs, deployment))
        total = updated = ready = 0
        for rs in owned:
            rs_status = rs.get("status") or {}
            total += rs_status.get("replicas", 0)
            ready += rs_status.get("readyReplicas", 0)
            if rs["metadata"].get("labels", {}).get("pod-template-hash") == pod_hash:
                updated = rs_status.get("replicas", 0)
        available = ready
        complete = updated == desired and total == desired and available == desired

        old_status = deployment.get("status") or {}
        old_conditions = {c["type"]: c for c in old_status.get("conditions") or []}
        now = now_rfc3339()

        def condition(kind: str, status: str, reason: str, message: str) -> dict[str, Any]:
            previous = old_conditions.get(kind)
            transition = previous.get("lastTransitionTime", now) \
                if previous and previous.get("status") == status else now
            update_time = previous.get("lastUpdateTime", now) \
                if previous and previous.get("reason") == reason and previous.get("status") == status else now
            return {"type": kind, "status": status, "lastUpdateTime": update_time,
                    "lastTransitionTime": transition, "reason": reason, "message": message}

        minimum = desired - _max_unavailable(deployment, desired)
        if available >= minimum:
            available_condition = condition("Available", "True", "MinimumReplicasAvailable",
                                            "Deployment has minimum availability.")
        else:
            available_condition = condition("Available", "False", "MinimumReplicasUnavailable",
                                            "Deployment does not have minimum availability.")
        rs_name = f"{meta['name']}-{pod_hash}"
        if complete:
            progressing = condition("Progressing", "True", "NewReplicaSetAvailable",
                                    f'ReplicaSet "{rs_name}" has successfully progressed.')
        else:
            progressing = condition("Progressing", "True", "ReplicaSetUpdated",
                                    f'ReplicaSet "{rs_name}" is progressing.')

        status: dict[str, Any] = {
            "observedGeneration": meta.get("generation", 1),
            "replicas": total,
            "updatedReplicas": updated,
            "readyReplicas": ready,
            "availableReplicas": available,
            "conditions": [available_condition, progressing],
        }
        if desired - available > 0:
            status["unavailableReplicas"] = desired - available
        for key in ("readyReplicas", "availableReplicas", "updatedReplicas", "replicas"):
            if not status[key]:
                del status[key]
        if status == old_status:
            return
        deployment["status"] = status
        self._write(lambda: self.store.update(self._deployments, namespace, meta["name"], deployment,
                                              subresource="status"))

    # ReplicaSets and ReplicationControllers.

    def _selects(self, owner: dict[str, Any], pod: dict[str, Any]) -> bool:
        labels = pod["metadata"].get("labels") or {}
        selector = owner["spec"].get("selector")
        if owner["kind"] == "ReplicationController":
            return match_service_selector(selector, labels)
        return match_label_selector_object(selector, labels)

    def _sync_replicas(self, resource, owner: dict[str, Any]) -> None:
        meta = owner["metadata"]
        if meta.get("deletionTimestamp"):
            return
        namespace = meta["namespace"]
        pods, _ = self.store.list(self._pods, namespace, lambda p: is_owned_by(p, owner)
                                  and not p["metadata"].get("deletionTimestamp"))
        desired = owner["spec"].get("replicas", 1)

        for _ in range(desired - len(pods)):
            template = copy.deepcopy(owner["spec"].get("template") or {})
            pod_meta = template.get("metadata") or {}
            pod = {
                "apiVersion": "v1", "kind": "Pod",
                "metadata": {
                    "name": f"{meta['name']}-{uuid.uuid4().hex[:5]}", "namespace": namespace,
                    "labels": pod_meta.get("labels") or {},
                    "annotations": pod_meta.get("annotations") or {},
                    "ownerReferences": [owner_reference(owner)],
                },
                "spec": template.get("spec") or {},
            }
            if not pod["metadata"]["annotations"]:
                del pod["metadata"]["annotations"]
            pod["spec"]["nodeName"] = self.node_name
            if self._write(lambda p=pod: self.store.create(self._pods, namespace, p)):
                record_event(self.store, owner, "Normal", "SuccessfulCreate",
                             f"Created pod: {pod['metadata']['name']}",
                             "replicaset-controller" if owner["kind"] == "ReplicaSet" else "replication-controller")

        if len(pods) > desired:
            newest_first = sorted(pods, key=lambda p: int(p["metadata"]["resourceVersion"]), reverse=True)
            for pod in newest_first[:len(pods) - desired]:
                self._write(lambda p=pod: self.store.delete(self._pods, namespace, p["metadata"]["name"]))

    def _update_replica_status(self, resource, owner: dict[str, Any]) -> None:
        meta = owner["metadata"]
        pods, _ = self.store.list(self._pods, meta["namespace"], lambda p: is_owned_by(p, owner))
        ready = sum(1 for p in pods if pod_is_ready(p))
        status = {
            "replicas": len(pods),
            "fullyLabeledReplicas": sum(1 for p in pods if self._selects(owner, p)),
            "readyReplicas": ready,
            "availableReplicas": ready,
            "observedGeneration": meta.get("generation", 1),
        }
        status = {k: v for k, v in status.items() if v or k in ("replicas", "observedGeneration")}
        if status == (owner.get("status") or {}):
            return
        owner["status"] = status
        self._write(lambda: self.store.update(resource, meta["namespace"], meta["name"], owner, subresource="status"))

    # Kubelet.

    def _run_pods(self) -> float | None:
        pods, _ = self.store.list(self._pods)
        now = time.monotonic()
        next_due: float | None = None
        seen = set()
        for pod in pods:
            uid = pod["metadata"]["uid"]
            seen.add(uid)
            if (pod.get("status") or {}).get("phase") != "Pending" or pod["metadata"].get("deletionTimestamp"):
                continue
            if self._missing_volume(pod):
                continue
            first_seen = self._first_seen.setdefault(uid, now)
            wait = first_seen + self.ready_delay - now
            if wait > 0:
                next_due = wait if next_due is None else min(next_due, wait)
                continue
            self._start_pod(pod)
        for uid in list(self._first_seen):
            if uid not in seen:
                del self._first_seen[uid]
        return next_due

    def _missing_volume(self, pod: dict[str, Any]) -> str | None:
        """Return why a pod's volumes cannot be set up yet: an unbound claim or a missing Secret or ConfigMap."""
        namespace = pod["metadata"]["namespace"]
        registry = self.store.registry
        for volume in (pod.get("spec") or {}).get("volumes") or []:
            claim = volume.get("persistentVolumeClaim")
            if claim:
                found = self.store.try_get(registry.by_path("", "v1", "persistentvolumeclaims"), namespace,
                                           claim.get("claimName", ""))
                if found is None or (found.get("status") or {}).get("phase") != "Bound":
                    return f"persistentvolumeclaim {claim.get('claimName')} is not bound"
            secret = volume.get("secret")
            if secret and not secret.get("optional") and self.store.try_get(
                    registry.by_path("", "v1", "secrets"), namespace, secret.get("secretName", "")) is None:
                return f"secret {secret.get('secretName')} not found"
            config_map = volume.get("configMap")
            if config_map and not config_map.get("optional") and self.store.try_get(
                    registry.by_path("", "v1", "configmaps"), namespace, config_map.get("name", "")) is None:
                return f"configmap {config_map.get('name')} not found"
        return None

    def _start_pod(self, pod: dict[str, Any]) -> None:
        now = now_rfc3339()
        index = int(uuid.UUID(pod["metadata"]["uid"]).int % (POD_CIDR.num_addresses - 2)) + 1
        spec = pod.get("spec") or {}
        pod["status"] = {
            "phase": "Running",
            "conditions": [{"type": t, "status": "True", "lastProbeTime": None, "lastTransitionTime": now}
                           for t in ("PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady",
                                     "PodScheduled")],
            "hostIP": "127.0.0.1",
            "hostIPs": [{"ip": "127.0.0.1"}],
            "podIP": str(POD_CIDR.network_address + index),
            "podIPs": [{"ip": str(POD_CIDR.network_address + index)}],
            "startTime": now,
            "qosClass": "BestEffort",
            "containerStatuses": [{
                "name": c["name"], "ready": True, "started": True, "restartCount": 0,
                "image": c.get("image", ""), "imageID": "",
                "containerID": f"containerd://{uuid.uuid4().hex}",
                "state": {"running": {"startedAt": now}},
            } for c in spec.get("containers") or []],
        }
        self._write(lambda: self.store.update(self._pods, pod["metadata"]["namespace"], pod["metadata"]["name"],
                                              pod, subresource="status"))

    def _write(self, action) -> bool:
        """Run one store write, treating a lost race (conflict, not found, namespace closing) as a retry."""
        try:
            action()
            return True
        except errors.StatusError as exc:
            if exc.code not in (403, 404, 409):
                raise
            self.wake()
            return False
