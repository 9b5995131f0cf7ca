"""In-memory object store with one resourceVersion counter and watch fan-out.

All reads and writes hold one lock, so the HTTP handlers on the event loop
thread and test code on other threads see a consistent store. Watchers and
change listeners live on the event loop and receive events through
`loop.call_soon_threadsafe`, which keeps their order equal to write order.
"""

from __future__ import annotations

import asyncio
import copy
import datetime
import threading
import uuid
from collections import deque
from dataclasses import dataclass
from typing import Any, Callable

from . import errors
from .resources import ResourceRegistry, ResourceType
from .strategies import Strategies

# Watch history kept for resuming watches from an older resourceVersion.
HISTORY_LIMIT = 20000


def now_rfc3339() -> str:
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class WatchEvent:
    resource_version: int
    resource: ResourceType
    type: str  # ADDED, MODIFIED or DELETED
    object: dict[str, Any]
    old_object: dict[str, Any] | None = None


class Watcher:
    """A registered watch: a queue of events for one resource, optionally one namespace."""

    def __init__(self, store: "Store", resource: ResourceType, namespace: str | None) -> None:
        self.store = store
        self.resource = resource
        self.namespace = namespace
        self.queue: asyncio.Queue[WatchEvent] = asyncio.Queue()

    def wants(self, event: WatchEvent) -> bool:
        if event.resource.key != self.resource.key:
            return False
        if self.namespace is None:
            return True
        return event.object["metadata"].get("namespace") == self.namespace

    def close(self) -> None:
        self.store.unwatch(self)


Listener = Callable[[WatchEvent], None]


class Store:
    """Objects of one simulated API server, keyed by resource, namespace and name."""

    def __init__(self, registry: ResourceRegistry, strategies: Strategies | None = None) -> None:
        self.registry = registry
        self.strategies = strategies or Strategies()
        self.loop: asyncio.AbstractEventLoop | None = None
        self._lock = threading.RLock()
        self._objects: dict[tuple[str, str], dict[tuple[str | None, str], dict[str, Any]]] = {}
        self._resource_version = 0
        self._history: deque[WatchEvent] = deque(maxlen=HISTORY_LIMIT)
        self._watchers: set[Watcher] = set()
        self._listeners: list[Listener] = []

    # Reads.

    @property
    def resource_version(self) -> int:
        with self._lock:
            return self._resource_version

    def resource_for(self, api_version: str, kind: str) -> ResourceType:
        resource = self.registry.by_kind(api_version, kind)
        if resource is None:
            raise errors.bad_request(f"no resource is registered for apiVersion {api_version} kind {kind}")
        return resource

    def get(self, resource: ResourceType, namespace: str | None, name: str) -> dict[str, Any]:
        with self._lock:
            obj = self._bucket(resource).get((self._scope(resource, namespace), name))
            if obj is None:
                raise errors.not_found(resource.group, resource.plural, name)
            return copy.deepcopy(obj)

    def try_get(self, resource: ResourceType, namespace: str | None, name: str) -> dict[str, Any] | None:
        with self._lock:
            obj = self._bucket(resource).get((self._scope(resource, namespace), name))
            return copy.deepcopy(obj) if obj is not None else None

    def list(self, resource: ResourceType, namespace: str | None = None,
             predicate: Callable[[dict[str, Any]], bool] | None = None) -> tuple[list[dict[str, Any]], int]:
        """Return matching objects sorted by namespace and name, and the current resourceVersion."""
        with self._lock:
            items = []
            for (ns, _), obj in sorted(self._bucket(resource).items(), key=lambda kv: (kv[0][0] or "", kv[0][1])):
                if namespace is not None and resource.namespaced and ns != namespace:
                    continue
                if predicate is not None and not predicate(obj):
                    continue
                items.append(copy.deepcopy(obj))
            return items, self._resource_version

    def namespace_phase(self, namespace: str) -> str | None:
        """Return the phase of a namespace, or None when it does not exist."""
        resource = self.registry.by_path("", "v1", "namespaces")
        if resource is None:
            return "Active"
        with self._lock:
            ns = self._bucket(resource).get((None, namespace))
            if ns is None:
                return None
            return (ns.get("status") or {}).get("phase", "Active")

    # Writes.

    def create(self, resource: ResourceType, namespace: str | None, obj: dict[str, Any], *,
               dry_run: bool = False, keep_status: bool = False) -> dict[str, Any]:
        obj = copy.deepcopy(obj)
        obj["apiVersion"] = resource.api_version
        obj["kind"] = resource.kind
        meta = obj.setdefault("metadata", {})

        with self._lock:
            namespace = self._resolve_namespace(resource, namespace, meta)
            self._check_namespace_open(resource, namespace, meta)

            if not meta.get("name") and meta.get("generateName"):
                meta["name"] = meta["generateName"] + uuid.uuid4().hex[:5]
            name = meta.get("name")
            if not name:
                raise errors.invalid(resource.group, resource.kind, "", [
                    {"field": "metadata.name", "reason": "FieldValueRequired",
                     "message": "Required value: name or generateName is required"}])

            bucket = self._bucket(resource)
            if (namespace, name) in bucket:
                raise errors.already_exists(resource.group, resource.plural, name)

            for field in ("resourceVersion", "deletionTimestamp", "deletionGracePeriodSeconds"):
                meta.pop(field, None)
            meta["uid"] = str(uuid.uuid4())
            meta["creationTimestamp"] = now_rfc3339()
            if "spec" in obj:
                meta["generation"] = 1
            self.strategies.prepare_create(self, resource, obj, keep_status=keep_status)

            if dry_run:
                return obj

            self._resource_version += 1
            meta["resourceVersion"] = str(self._resource_version)
            bucket[(namespace, name)] = obj
            self._emit(WatchEvent(self._resource_version, resource, "ADDED", copy.deepcopy(obj)))
            return copy.deepcopy(obj)

    def update(self, resource: ResourceType, namespace: str | None, name: str, obj: dict[str, Any], *,
               subresource: str | None = None, dry_run: bool = False) -> dict[str, Any]:
        """Replace an object, enforcing resourceVersion preconditions and subresource rules."""
        obj = copy.deepcopy(obj)
        obj["apiVersion"] = resource.api_version
        obj["kind"] = resource.kind
        meta = obj.setdefault("metadata", {})

        with self._lock:
            namespace = self._scope(resource, namespace)
            bucket = self._bucket(resource)
            old = bucket.get((namespace, name))
            if old is None:
                raise errors.not_found(resource.group, resource.plural, name)
            if meta.get("name", name) != name:
                raise errors.bad_request(
                    f'the name of the object ({meta.get("name")}) does not match the name on the URL ({name})')

            requested_version = meta.get("resourceVersion")
            if requested_version and requested_version != old["metadata"]["resourceVersion"]:
                raise errors.conflict(resource.group, resource.plural, name,
                                      "the object has been modified; please apply your changes "
                                      "to the latest version and try again")

            new = self._merge_for_update(resource, old, obj, subresource)
            new_meta = new["metadata"]
            for field in ("uid", "creationTimestamp", "namespace", "name", "deletionTimestamp",
                          "deletionGracePeriodSeconds"):
                if field in old["metadata"]:
                    new_meta[field] = old["metadata"][field]
                else:
                    new_meta.pop(field, None)
            if "generation" in old["metadata"]:
                new_meta["generation"] = old["metadata"]["generation"]
                if _spec_of(new) != _spec_of(old):
                    new_meta["generation"] += 1
            self.strategies.prepare_update(self, resource, old, new)

            new_meta["resourceVersion"] = old["metadata"]["resourceVersion"]
            if new == old:
                return copy.deepcopy(old)
            if dry_run:
                return new

            # An object being deleted goes away once its last finalizer is removed.
            if new_meta.get("deletionTimestamp") and not new_meta.get("finalizers") \
                    and not _namespace_finalizers(resource, new):
                return self._remove(resource, namespace, name, new)

            self._resource_version += 1
            new_meta["resourceVersion"] = str(self._resource_version)
            bucket[(namespace, name)] = new
            self._emit(WatchEvent(self._resource_version, resource, "MODIFIED", copy.deepcopy(new),
                                  copy.deepcopy(old)))
            return copy.deepcopy(new)

    def delete(self, resource: ResourceType, namespace: str | None, name: str, *,
               dry_run: bool = False, preconditions: dict[str, Any] | None = None) -> dict[str, Any]:
        """Delete an object, or mark it for deletion while finalizers remain."""
        with self._lock:
            namespace = self._scope(resource, namespace)
            bucket = self._bucket(resource)
            old = bucket.get((namespace, name))
            if old is None:
                raise errors.not_found(resource.group, resource.plural, name)

            preconditions = preconditions or {}
            if preconditions.get("uid") and preconditions["uid"] != old["metadata"]["uid"]:
                raise errors.conflict(resource.group, resource.plural, name,
                                      f"Precondition failed: UID in precondition: {preconditions['uid']}, "
                                      f"UID in object meta: {old['metadata']['uid']}")
            if preconditions.get("resourceVersion") and \
                    preconditions["resourceVersion"] != old["metadata"]["resourceVersion"]:
                raise errors.conflict(resource.group, resource.plural, name,
                                      "Precondition failed: resourceVersion does not match")

            if old["metadata"].get("finalizers") or _namespace_finalizers(resource, old):
                if old["metadata"].get("deletionTimestamp"):
                    return copy.deepcopy(old)
                marked = copy.deepcopy(old)
                marked["metadata"]["deletionTimestamp"] = now_rfc3339()
                marked["metadata"]["deletionGracePeriodSeconds"] = 0
                if resource.kind == "Namespace":
                    marked.setdefault("status", {})["phase"] = "Terminating"
                if dry_run:
                    return marked
                self._resource_version += 1
                marked["metadata"]["resourceVersion"] = str(self._resource_version)
                bucket[(namespace, name)] = marked
                self._emit(WatchEvent(self._resource_version, resource, "MODIFIED",
                                      copy.deepcopy(marked), copy.deepcopy(old)))
                return copy.deepcopy(marked)

            if dry_run:
                return copy.deepcopy(old)
            return self._remove(resource, namespace, name, old)

    def put(self, obj: dict[str, Any]) -> dict[str, Any]:
        """Create or replace an object as given, keeping its status (used for seeding)."""
        resource = self.resource_for(obj["apiVersion"], obj["kind"])
        meta = obj.get("metadata") or {}
        existing = self.try_get(resource, meta.get("namespace"), meta.get("name", ""))
        if existing is None:
            return self.create(resource, meta.get("namespace"), obj, keep_status=True)

        obj = copy.deepcopy(obj)
        obj["metadata"].pop("resourceVersion", None)
        updated = self.update(resource, meta.get("namespace"), meta["name"], obj)
        if "status" in obj and updated.get("status") != obj["status"]:
            updated["status"] = obj["status"]
            updated = self.update(resource, meta.get("namespace"), meta["name"], updated, subresource="status")
        return updated

    # Watching.

    def watch(self, resource: ResourceType, namespace: str | None,
              since: int | None) -> tuple[Watcher, list[WatchEvent]]:
        """Register a watcher and return it with the recorded events after `since`.

        Raises 410 Expired when `since` is older than the oldest recorded event.
        """
        with self._lock:
            watcher = Watcher(self, resource, namespace)
            backlog: list[WatchEvent] = []
            if since is not None and since < self._resource_version:
                if self._history and since < self._history[0].resource_version - 1 \
                        and len(self._history) == self._history.maxlen:
                    raise errors.gone(f"too old resource version: {since} ({self._history[0].resource_version})")
                backlog = [e for e in self._history if e.resource_version > since and watcher.wants(e)]
            self._watchers.add(watcher)
            return watcher, backlog

    def unwatch(self, watcher: Watcher) -> None:
        with self._lock:
            self._watchers.discard(watcher)

    def add_listener(self, listener: Listener) -> None:
        """Call `listener(event)` on the event loop after every write."""
        with self._lock:
            self._listeners.append(listener)

    def remove_listener(self, listener: Listener) -> None:
        with self._lock:
            if listener in self._listeners:
                self._listeners.remove(listener)

    # Internals.

    def _bucket(self, resource: ResourceType) -> dict[tuple[str | None, str], dict[str, Any]]:
        return self._objects.setdefault(resource.key, {})

    @staticmethod
    def _scope(resource: ResourceType, namespace: str | None) -> str | None:
        return namespace if resource.namespaced else None

    def _resolve_namespace(self, resource: ResourceType, namespace: str | None,
                           meta: dict[str, Any]) -> str | None:
        if not resource.namespaced:
            meta.pop("namespace", None)
            return None
        body_namespace = meta.get("namespace")
        if namespace and body_namespace and body_namespace != namespace:
            raise errors.bad_request(
                "the namespace of the provided object does not match the namespace sent on the request")
        namespace = namespace or body_namespace or "default"
        meta["namespace"] = namespace
        return namespace

    def _check_namespace_open(self, resource: ResourceType, namespace: str | None,
                              meta: dict[str, Any]) -> None:
        if not resource.namespaced:
            return
        phase = self.namespace_phase(namespace or "")
        if phase is None:
            raise errors.not_found("", "namespaces", namespace or "")
        if phase == "Terminating":
            raise errors.forbidden(
                resource.group, resource.plural, meta.get("name", ""),
                f'{resource.plural} "{meta.get("name", "")}" is forbidden: unable to create new content '
                f"in namespace {namespace} because it is being terminated")

    def _merge_for_update(self, resource: ResourceType, old: dict[str, Any], obj: dict[str, Any],
                          subresource: str | None) -> dict[str, Any]:
        has_status = "status" in resource.subresources
        if subresource == "status":
            new = copy.deepcopy(old)
            new["status"] = obj.get("status", {})
            # Finalizers and deletionTimestamp survive a status write, but labels do not change.
            return new
        new = obj
        if has_status:
            if "status" in old:
                new["status"] = copy.deepcopy(old["status"])
            else:
                new.pop("status", None)
        return new

    def _remove(self, resource: ResourceType, namespace: str | None, name: str,
                last: dict[str, Any]) -> dict[str, Any]:
        del self._bucket(resource)[(namespace, name)]
        self._resource_version += 1
        final = copy.deepcopy(last)
        final["metadata"]["resourceVersion"] = str(self._resource_version)
        self._emit(WatchEvent(self._resource_version, resource, "DELETED", final))
        return copy.deepcopy(final)

    def _emit(self, event: WatchEvent) -> None:
        self._history.append(event)
        if self.loop is None or self.loop.is_closed():
            return
        for watcher in list(self._watchers):
            if watcher.wants(event):
                self.loop.call_soon_threadsafe(watcher.queue.put_nowait, event)
        for listener in list(self._listeners):
            self.loop.call_soon_threadsafe(listener, event)


def _spec_of(obj: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in obj.items() if k not in ("metadata", "status", "apiVersion", "kind")}


def _namespace_finalizers(resource: ResourceType, obj: dict[str, Any]) -> bool:
    return resource.kind == "Namespace" and bool((obj.get("spec") or {}).get("finalizers"))
