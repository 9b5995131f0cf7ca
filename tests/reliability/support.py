"""Helpers the reliability tests share: cluster snapshots, kubeconfig entries and secret search."""

from __future__ import annotations

import base64
import copy
import re
import threading
import time
from pathlib import Path
from typing import Any

import yaml

OWNER = "federation.k8s.io/federation-name"

# Object, user and context names (federation-cluster, kind-member1) appear in
# Secrets and in output alike. Generated tokens and passwords mix upper and
# lower case, so they never match.
NAME = re.compile(r"^[a-z0-9][a-z0-9.@:/_-]*$")

# Metadata the API server or the controllers set, which differs between two
# otherwise identical runs.
VOLATILE_METADATA = ("uid", "resourceVersion", "creationTimestamp", "generation", "managedFields", "annotations", "deletionTimestamp", "finalizers", "selfLink")


# Kinds the cluster's controllers derive from what the scripts create, with
# random names and addresses (pod IPs, ReplicaSet hashes).
CONTROLLER_MADE = frozenset({"Endpoints", "Pod", "ReplicaSet", "Event"})


def every_object(cluster) -> list[dict[str, Any]]:
    """Return every object a simulated cluster stores, whatever its kind."""
    found = []
    for resource in cluster.store.registry.types:
        items, _ = cluster.store.list(resource)
        found.extend(items)
    return found


def object_keys(cluster) -> set[tuple[str, str, str, str]]:
    """Return (apiVersion, kind, namespace, name) of every stored object."""
    return {
        (item.get("apiVersion", ""), item.get("kind", ""), item["metadata"].get("namespace", ""), item["metadata"]["name"])
        for item in every_object(cluster)
    }


def owned_objects(cluster, federation_name: str) -> list[str]:
    """Return kind/namespace/name of every object labelled as belonging to ``federation_name``."""
    return sorted(
        f"{item.get('kind')}/{item['metadata'].get('namespace', '')}/{item['metadata']['name']}"
        for item in every_object(cluster)
        if (item["metadata"].get("labels") or {}).get(OWNER) == federation_name
    )


def owned_state(cluster, federation_name: str) -> dict[str, Any]:
    """Return the owned objects keyed by kind/namespace/name, without volatile metadata and status.

    Generated credentials (Secret data) are replaced by their key names,
    because a converged re-run may keep or regenerate them. The caller
    compares those separately where it matters.
    """
    state = {}
    for item in every_object(cluster):
        metadata = item["metadata"]
        if (metadata.get("labels") or {}).get(OWNER) != federation_name or item.get("kind") in CONTROLLER_MADE:
            continue
        body = copy.deepcopy(item)
        body.pop("status", None)
        for key in VOLATILE_METADATA:
            body["metadata"].pop(key, None)
        if body.get("kind") == "Secret":
            body["data"] = sorted(body.get("data") or {})
        if body.get("kind") == "Service":
            # The cluster allocates these on create (node ports too, for a LoadBalancer).
            spec = body.get("spec", {})
            for key in ("clusterIP", "clusterIPs"):
                spec.pop(key, None)
            if spec.get("type") == "LoadBalancer":
                for port in spec.get("ports") or []:
                    port.pop("nodePort", None)
        if body.get("kind") == "PersistentVolumeClaim":
            body.get("spec", {}).pop("volumeName", None)
        state[f"{item.get('kind')}/{metadata.get('namespace', '')}/{metadata['name']}"] = body
    return state


def kubeconfig_entries(path: Path, name: str) -> dict[str, bool]:
    """Return whether the kubeconfig has a cluster, a user and a context called ``name`` (or ``name-*`` users)."""
    document = yaml.safe_load(Path(path).read_text()) or {}
    return {
        "cluster": any(item.get("name") == name for item in document.get("clusters") or []),
        "user": any(item.get("name") == name or item.get("name", "").startswith(f"{name}-") for item in document.get("users") or []),
        "context": any(item.get("name") == name for item in document.get("contexts") or []),
    }


def kubeconfig_entry(path: Path, section: str, name: str) -> dict | None:
    document = yaml.safe_load(Path(path).read_text()) or {}
    return next((item for item in document.get(section) or [] if item.get("name") == name), None)


def secret_values(cluster) -> set[str]:
    """Return every Secret value in ``cluster`` that looks like a credential, decoded and base64 encoded.

    Short values (a namespace name, a user name) are left out, because they
    appear in output legitimately. What remains are tokens, passwords, keys,
    certificates and kubeconfigs, and the words of the multi-line ones.
    """
    values: set[str] = set()
    for resource in cluster.store.registry.types:
        if resource.kind != "Secret":
            continue
        items, _ = cluster.store.list(resource)
        for item in items:
            for encoded in (item.get("data") or {}).values():
                values.add(encoded)
                decoded = base64.b64decode(encoded).decode(errors="replace")
                values.add(decoded)
                for line in decoded.splitlines():
                    for field in line.replace(",", " ").replace(":", " ").split():
                        values.add(field)
    return {value for value in values if len(value) >= 16 and not value.startswith("-----") and not NAME.match(value)}


def arm_after_requests(cluster, count: int, arm) -> threading.Thread:
    """Call ``arm()`` once ``cluster`` has served ``count`` more requests than now.

    kubesim's faults apply to the next requests, so a fault "in the middle"
    of a run is armed by this watcher thread once the run has made ``count``
    requests.
    """
    start = sum(cluster.requests.values())

    def watch() -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if sum(cluster.requests.values()) - start >= count:
                arm()
                return
            time.sleep(0.005)

    thread = threading.Thread(target=watch, name="arm-fault", daemon=True)
    thread.start()
    return thread
