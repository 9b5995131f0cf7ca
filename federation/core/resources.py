"""Where each kind of object lives in the Kubernetes REST API.

A fixed table instead of API discovery: the scripts only ever touch these
kinds, and skipping discovery saves several requests per run.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote


@dataclass(frozen=True)
class Resource:
    api_version: str
    kind: str
    plural: str
    namespaced: bool

    def path(self, namespace: str | None = None, name: str | None = None, subresource: str | None = None) -> str:
        """Return the REST path, e.g. ``/apis/apps/v1/namespaces/ns/deployments/name``."""
        prefix = "/api/v1" if self.api_version == "v1" else f"/apis/{self.api_version}"
        parts = [prefix]
        if self.namespaced and namespace:
            parts.append(f"namespaces/{quote(namespace, safe='')}")
        parts.append(self.plural)
        if name:
            parts.append(quote(name, safe=""))
            if subresource:
                parts.append(subresource)
        return "/".join(parts)


_TABLE = [
    Resource("v1", "Namespace", "namespaces", False),
    Resource("v1", "Node", "nodes", False),
    Resource("v1", "PersistentVolume", "persistentvolumes", False),
    Resource("v1", "Secret", "secrets", True),
    Resource("v1", "ConfigMap", "configmaps", True),
    Resource("v1", "Service", "services", True),
    Resource("v1", "Endpoints", "endpoints", True),
    Resource("v1", "ServiceAccount", "serviceaccounts", True),
    Resource("v1", "PersistentVolumeClaim", "persistentvolumeclaims", True),
    Resource("v1", "Pod", "pods", True),
    Resource("v1", "Event", "events", True),
    Resource("v1", "ReplicationController", "replicationcontrollers", True),
    Resource("apps/v1", "Deployment", "deployments", True),
    Resource("apps/v1", "ReplicaSet", "replicasets", True),
    Resource("rbac.authorization.k8s.io/v1", "ClusterRole", "clusterroles", False),
    Resource("rbac.authorization.k8s.io/v1", "ClusterRoleBinding", "clusterrolebindings", False),
    Resource("rbac.authorization.k8s.io/v1", "Role", "roles", True),
    Resource("rbac.authorization.k8s.io/v1", "RoleBinding", "rolebindings", True),
    Resource("storage.k8s.io/v1", "StorageClass", "storageclasses", False),
    Resource("federation/v1beta1", "Cluster", "clusters", False),
]

RESOURCES = {(resource.api_version, resource.kind): resource for resource in _TABLE}


def resource_for(api_version: str, kind: str) -> Resource:
    try:
        return RESOURCES[(api_version, kind)]
    except KeyError:
        raise ValueError(f"no REST mapping for {api_version} {kind}") from None


def describe(obj: dict) -> str:
    """Return ``Kind "namespace/name"``, the form used in progress lines."""
    metadata = obj.get("metadata") or {}
    name = metadata.get("name", "?")
    namespace = metadata.get("namespace")
    return f'{obj.get("kind", "?")} "{namespace}/{name}"' if namespace else f'{obj.get("kind", "?")} "{name}"'
