"""Applying and deleting sets of objects, and planning both for ``--dry-run``."""

from __future__ import annotations

import copy
from collections.abc import Iterable

from federation.core.kube import ApiError, Cluster
from federation.core.resources import describe
from federation.core.runner import Change
from federation.core.status import Status

APP_LABEL = {"app": "federated-cluster"}
OWNER_LABEL = "federation.k8s.io/federation-name"

# Fields the API server fills in; they say nothing about whether our intent changed.
_SERVER_METADATA = ("resourceVersion", "generation", "managedFields", "uid", "creationTimestamp", "selfLink", "deletionTimestamp", "deletionGracePeriodSeconds", "finalizers", "ownerReferences")

# Apply order: what others refer to comes first; deletion runs in reverse.
KIND_ORDER = [
    "Namespace", "StorageClass", "ServiceAccount", "Secret", "ConfigMap", "ClusterRole", "ClusterRoleBinding",
    "Role", "RoleBinding", "Service", "PersistentVolumeClaim", "Deployment", "Cluster",
]


def ownership_labels(federation_name: str) -> dict[str, str]:
    """Labels every created object carries, so teardown and leak checks find exactly these."""
    return {**APP_LABEL, OWNER_LABEL: federation_name}


def sort_objects(objects: Iterable[dict], reverse: bool = False) -> list[dict]:
    def rank(obj: dict) -> int:
        return KIND_ORDER.index(obj["kind"]) if obj["kind"] in KIND_ORDER else len(KIND_ORDER)

    return sorted(objects, key=rank, reverse=reverse)


def apply_objects(cluster: Cluster, objects: Iterable[dict], status: Status) -> dict[str, dict]:
    """Apply ``objects`` in dependency order and report each; return the stored objects by description."""
    stored = {}
    for obj in sort_objects(objects):
        outcome, result = cluster.apply(obj)
        status.line(f"   {outcome} {describe(obj)}")
        stored[describe(obj)] = result
    return stored


def plan_apply(cluster: Cluster, obj: dict) -> Change:
    """Tell whether applying ``obj`` would create, update or leave it unchanged, changing nothing."""
    metadata = obj["metadata"]
    current = cluster.get(obj["apiVersion"], obj["kind"], metadata["name"], metadata.get("namespace"))
    if current is None:
        return Change("create", describe(obj), cluster.context)

    try:
        _, proposed = cluster.apply(obj, dry_run=True)
    except ApiError as error:
        if error.status == 404:
            # The namespace does not exist yet, so the object cannot exist either.
            return Change("create", describe(obj), cluster.context)
        raise
    if _comparable(proposed) == _comparable(current):
        return Change("unchanged", describe(obj), cluster.context)
    return Change("update", describe(obj), cluster.context, _changed_fields(current, proposed))


def plan_objects(cluster: Cluster, objects: Iterable[dict]) -> list[Change]:
    return [plan_apply(cluster, obj) for obj in sort_objects(objects)]


def _comparable(obj: dict) -> dict:
    obj = copy.deepcopy(obj)
    obj.pop("status", None)
    metadata = obj.get("metadata") or {}
    for key in _SERVER_METADATA:
        metadata.pop(key, None)
    annotations = metadata.get("annotations") or {}
    annotations.pop("deployment.kubernetes.io/revision", None)
    if not annotations:
        metadata.pop("annotations", None)
    return obj


def _changed_fields(current: dict, proposed: dict) -> str:
    before, after = _comparable(current), _comparable(proposed)
    keys = sorted(key for key in set(before) | set(after) if before.get(key) != after.get(key))
    # Names of the top-level fields only: the values may be Secret data.
    return "changes " + ", ".join(keys) if keys else ""
