"""PersistentVolumeClaim binder and a provisioner shaped like kind's local-path-provisioner.

NOTE: kind's `standard` class uses volumeBindingMode WaitForFirstConsumer; kubesim
binds claims as soon as a class exists, without waiting for a pod.
"""

from __future__ import annotations

from typing import Any

from .. import errors
from .base import Controller
from .events import record_event

DEFAULT_CLASS_ANNOTATION = "storageclass.kubernetes.io/is-default-class"


class PersistentVolumeClaimController(Controller):
    name = "pvc"
    watches = ("persistentvolumeclaims", "storageclasses", "persistentvolumes")

    def __init__(self, store, cluster=None, node_name: str = "node") -> None:
        super().__init__(store, cluster)
        self.node_name = node_name
        self._claims = store.registry.by_path("", "v1", "persistentvolumeclaims")
        self._volumes = store.registry.by_path("", "v1", "persistentvolumes")
        self._classes = store.registry.by_path("storage.k8s.io", "v1", "storageclasses")
        self._reported: set[tuple[str, str]] = set()

    def reconcile(self) -> float | None:
        classes, _ = self.store.list(self._classes)
        by_name = {c["metadata"]["name"]: c for c in classes}
        default = next((c for c in classes
                        if (c["metadata"].get("annotations") or {}).get(DEFAULT_CLASS_ANNOTATION) == "true"), None)

        claims, _ = self.store.list(self._claims)
        for claim in claims:
            if (claim.get("status") or {}).get("phase") == "Bound" or claim["metadata"].get("deletionTimestamp"):
                continue
            try:
                self._bind(claim, by_name, default)
            except errors.StatusError as exc:
                if exc.code not in (403, 404, 409):
                    raise
                self.wake()

        self._release_volumes(claims)
        return None

    def _bind(self, claim: dict[str, Any], classes: dict[str, dict[str, Any]],
              default: dict[str, Any] | None) -> None:
        meta = claim["metadata"]
        spec = claim.setdefault("spec", {})
        class_name = spec.get("storageClassName")

        if class_name is None and default is not None:
            class_name = default["metadata"]["name"]
        storage_class = classes.get(class_name) if class_name else None

        if storage_class is None:
            if class_name:
                self._report(claim, "ProvisioningFailed", f'storageclass.storage.k8s.io "{class_name}" not found')
            else:
                self._report(claim, "FailedBinding",
                             "no persistent volumes available for this claim and no storage class is set")
            return

        volume_name = f"pvc-{meta['uid']}"
        request = ((spec.get("resources") or {}).get("requests") or {}).get("storage", "1Gi")
        access_modes = spec.get("accessModes") or ["ReadWriteOnce"]
        provisioner = storage_class.get("provisioner", "")
        volume = {
            "apiVersion": "v1", "kind": "PersistentVolume",
            "metadata": {"name": volume_name,
                         "annotations": {"pv.kubernetes.io/provisioned-by": provisioner,
                                         "local.path.provisioner/selected-node": self.node_name},
                         "finalizers": ["kubernetes.io/pv-protection"]},
            "spec": {
                "capacity": {"storage": request},
                "accessModes": access_modes,
                "persistentVolumeReclaimPolicy": storage_class.get("reclaimPolicy", "Delete"),
                "storageClassName": class_name,
                "volumeMode": spec.get("volumeMode", "Filesystem"),
                "hostPath": {"path": f"/var/local-path-provisioner/{volume_name}_{meta['namespace']}_{meta['name']}",
                             "type": "DirectoryOrCreate"},
                "claimRef": {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "name": meta["name"],
                             "namespace": meta["namespace"], "uid": meta["uid"],
                             "resourceVersion": meta["resourceVersion"]},
            },
            "status": {"phase": "Bound"},
        }
        if self.store.try_get(self._volumes, None, volume_name) is None:
            self.store.create(self._volumes, None, volume, keep_status=True)

        spec["storageClassName"] = class_name
        spec["volumeName"] = volume_name
        annotations = meta.setdefault("annotations", {})
        annotations["pv.kubernetes.io/bind-completed"] = "yes"
        annotations["pv.kubernetes.io/bound-by-controller"] = "yes"
        annotations["volume.beta.kubernetes.io/storage-provisioner"] = provisioner
        annotations["volume.kubernetes.io/storage-provisioner"] = provisioner
        claim = self.store.update(self._claims, meta["namespace"], meta["name"], claim)
        claim["status"] = {"phase": "Bound", "accessModes": access_modes, "capacity": {"storage": request}}
        self.store.update(self._claims, meta["namespace"], meta["name"], claim, subresource="status")
        record_event(self.store, claim, "Normal", "ProvisioningSucceeded",
                     f"Successfully provisioned volume {volume_name}", f"{provisioner}_{self.node_name}")

    def _report(self, claim: dict[str, Any], reason: str, message: str) -> None:
        key = (claim["metadata"]["uid"], reason)
        if key in self._reported:
            return
        self._reported.add(key)
        record_event(self.store, claim, "Warning" if reason == "ProvisioningFailed" else "Normal", reason, message,
                     "persistentvolume-controller")

    def _release_volumes(self, claims: list[dict[str, Any]]) -> None:
        """Delete provisioned volumes whose claim is gone, as reclaimPolicy Delete does."""
        claim_uids = {c["metadata"]["uid"] for c in claims}
        volumes, _ = self.store.list(self._volumes)
        for volume in volumes:
            claim_ref = (volume.get("spec") or {}).get("claimRef") or {}
            policy = (volume.get("spec") or {}).get("persistentVolumeReclaimPolicy")
            if not claim_ref.get("uid") or claim_ref["uid"] in claim_uids or policy != "Delete":
                continue
            volume["metadata"]["finalizers"] = []
            try:
                self.store.update(self._volumes, None, volume["metadata"]["name"], volume)
                self.store.delete(self._volumes, None, volume["metadata"]["name"])
            except errors.StatusError as exc:
                if exc.code != 404:
                    raise
