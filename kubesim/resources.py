"""Resource types served by a simulated API server.

A ResourceType carries what discovery, routing and the store need about one
REST resource: its group/version, kind, plural, scope and subresources.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class ResourceType:
    group: str
    version: str
    kind: str
    plural: str
    namespaced: bool
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    subresources: tuple[str, ...] = ()
    verbs: tuple[str, ...] = (
        "create", "delete", "deletecollection", "get", "list", "patch", "update", "watch",
    )

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def singular(self) -> str:
        return self.kind.lower()

    @property
    def list_kind(self) -> str:
        return self.kind + "List"

    @property
    def key(self) -> tuple[str, str]:
        """Return (group, plural), the identity of the stored collection."""
        return (self.group, self.plural)


@dataclass
class ResourceRegistry:
    """Resource types of one API server, looked up by URL parts or by kind."""

    types: list[ResourceType] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._by_path = {(t.group, t.version, t.plural): t for t in self.types}
        self._by_kind = {(t.api_version, t.kind): t for t in self.types}

    def by_path(self, group: str, version: str, plural: str) -> ResourceType | None:
        return self._by_path.get((group, version, plural))

    def by_kind(self, api_version: str, kind: str) -> ResourceType | None:
        return self._by_kind.get((api_version, kind))

    def group_versions(self) -> dict[str, list[str]]:
        """Return {group: [versions]} in registration order, core group as ""."""
        result: dict[str, list[str]] = {}
        for t in self.types:
            versions = result.setdefault(t.group, [])
            if t.version not in versions:
                versions.append(t.version)
        return result

    def in_group_version(self, group: str, version: str) -> list[ResourceType]:
        return [t for t in self.types if t.group == group and t.version == version]


CORE = ""
_ALL = ("all",)

KUBERNETES_RESOURCES = ResourceRegistry([
    ResourceType(CORE, "v1", "Namespace", "namespaces", False, ("ns",),
                 subresources=("status", "finalize"),
                 verbs=("create", "delete", "get", "list", "patch", "update", "watch")),
    ResourceType(CORE, "v1", "Node", "nodes", False, ("no",), subresources=("status",)),
    ResourceType(CORE, "v1", "Pod", "pods", True, ("po",), _ALL, ("status",)),
    ResourceType(CORE, "v1", "Service", "services", True, ("svc",), _ALL, ("status",),
                 verbs=("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")),
    ResourceType(CORE, "v1", "Endpoints", "endpoints", True, ("ep",)),
    ResourceType(CORE, "v1", "Secret", "secrets", True),
    ResourceType(CORE, "v1", "ConfigMap", "configmaps", True, ("cm",)),
    ResourceType(CORE, "v1", "ServiceAccount", "serviceaccounts", True, ("sa",)),
    ResourceType(CORE, "v1", "PersistentVolumeClaim", "persistentvolumeclaims", True, ("pvc",),
                 subresources=("status",)),
    ResourceType(CORE, "v1", "PersistentVolume", "persistentvolumes", False, ("pv",),
                 subresources=("status",)),
    ResourceType(CORE, "v1", "ReplicationController", "replicationcontrollers", True, ("rc",),
                 _ALL, ("status", "scale")),
    ResourceType(CORE, "v1", "Event", "events", True, ("ev",)),
    ResourceType("apps", "v1", "Deployment", "deployments", True, ("deploy",), _ALL,
                 ("status", "scale")),
    ResourceType("apps", "v1", "ReplicaSet", "replicasets", True, ("rs",), _ALL,
                 ("status", "scale")),
    ResourceType("rbac.authorization.k8s.io", "v1", "Role", "roles", True),
    ResourceType("rbac.authorization.k8s.io", "v1", "RoleBinding", "rolebindings", True),
    ResourceType("rbac.authorization.k8s.io", "v1", "ClusterRole", "clusterroles", False),
    ResourceType("rbac.authorization.k8s.io", "v1", "ClusterRoleBinding", "clusterrolebindings", False),
    ResourceType("storage.k8s.io", "v1", "StorageClass", "storageclasses", False, ("sc",)),
    ResourceType("apiextensions.k8s.io", "v1", "CustomResourceDefinition",
                 "customresourcedefinitions", False, ("crd", "crds"), subresources=("status",)),
])

FEDERATION_RESOURCES = ResourceRegistry([
    ResourceType(CORE, "v1", "Namespace", "namespaces", False, ("ns",),
                 subresources=("status", "finalize"),
                 verbs=("create", "delete", "get", "list", "patch", "update", "watch")),
    ResourceType(CORE, "v1", "Secret", "secrets", True),
    ResourceType("federation", "v1beta1", "Cluster", "clusters", False, subresources=("status",)),
])
