"""Writing core/v1 Events the way controllers do."""

from __future__ import annotations

import uuid
from typing import Any

from ..errors import StatusError
from ..store import Store, now_rfc3339


def record_event(store: Store, involved: dict[str, Any], event_type: str, reason: str, message: str,
                 component: str) -> None:
    """Create an Event about `involved` in its namespace, skipping namespaces that are going away."""
    resource = store.registry.by_path("", "v1", "events")
    if resource is None:
        return
    meta = involved.get("metadata") or {}
    namespace = meta.get("namespace") or "default"
    now = now_rfc3339()
    event = {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": f"{meta.get('name', 'unknown')}.{uuid.uuid4().hex[:16]}", "namespace": namespace},
        "involvedObject": {
            "apiVersion": involved.get("apiVersion"), "kind": involved.get("kind"),
            "name": meta.get("name"), "namespace": meta.get("namespace"), "uid": meta.get("uid"),
            "resourceVersion": meta.get("resourceVersion"),
        },
        "reason": reason,
        "message": message,
        "type": event_type,
        "source": {"component": component},
        "reportingComponent": component,
        "reportingInstance": "",
        "firstTimestamp": now,
        "lastTimestamp": now,
        "count": 1,
    }
    try:
        store.create(resource, namespace, event)
    except StatusError as exc:
        if exc.code not in (403, 404):
            raise
