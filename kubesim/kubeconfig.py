"""Writing kubeconfig files for the simulated clusters."""

from __future__ import annotations

import base64
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

if TYPE_CHECKING:
    from .cluster import SimulatedCluster


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def kubeconfig_for(clusters: list["SimulatedCluster"]) -> dict[str, Any]:
    """Build a kubeconfig with one context per cluster; cluster and user entries share the context name."""
    config: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Config",
        "preferences": {},
        "clusters": [],
        "users": [],
        "contexts": [],
        "current-context": clusters[0].context if clusters else "",
    }
    for cluster in clusters:
        name = cluster.context
        config["clusters"].append({"name": name, "cluster": {
            "server": cluster.url, "certificate-authority-data": _b64(cluster.ca_pem.encode())}})
        if cluster.token is not None:
            user: dict[str, Any] = {"token": cluster.token}
        else:
            user = {"client-certificate-data": _b64(cluster.client_cert_pem),
                    "client-key-data": _b64(cluster.client_key_pem)}
        config["users"].append({"name": name, "user": user})
        config["contexts"].append({"name": name, "context": {"cluster": name, "user": name}})
    return config


def write_kubeconfig(path: str | os.PathLike[str], config: dict[str, Any]) -> None:
    """Write the file with mode 0600 by renaming a complete temporary file over it."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    try:
        os.fchmod(descriptor, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            yaml.safe_dump(config, handle, default_flow_style=False, sort_keys=False)
        os.replace(temporary, target)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise
