"""Namespace lifecycle: a deleted namespace is Terminating until its contents are gone."""

from __future__ import annotations

from .. import errors
from .base import Controller


class NamespaceController(Controller):
    name = "namespace"
    watches = ("namespaces",)

    def __init__(self, store, cluster=None) -> None:
        super().__init__(store, cluster)
        self._namespaces = store.registry.by_path("", "v1", "namespaces")

    def reconcile(self) -> float | None:
        namespaces, _ = self.store.list(self._namespaces)
        pending = False
        for namespace in namespaces:
            if namespace["metadata"].get("deletionTimestamp"):
                pending |= not self._finalize(namespace)
        # Objects with finalizers of their own may take another pass.
        return 0.1 if pending else None

    def _finalize(self, namespace: dict) -> bool:
        """Delete everything in the namespace; return True once the namespace itself is removed."""
        name = namespace["metadata"]["name"]
        remaining = 0
        for resource in self.store.registry.types:
            if not resource.namespaced:
                continue
            items, _ = self.store.list(resource, name)
            for item in items:
                remaining += 1
                meta = item["metadata"]
                try:
                    if meta.get("finalizers"):
                        # No other controller removes these finalizers in kubesim, so drop them here.
                        item["metadata"]["finalizers"] = []
                        self.store.update(resource, name, meta["name"], item)
                    if self.store.try_get(resource, name, meta["name"]) is not None:
                        self.store.delete(resource, name, meta["name"])
                except errors.StatusError as exc:
                    if exc.code not in (404, 409):
                        raise
        if remaining:
            return False

        namespace["spec"]["finalizers"] = []
        try:
            self.store.update(self._namespaces, None, name, namespace)
        except errors.StatusError as exc:
            if exc.code not in (404, 409):
                raise
            return False
        return True
