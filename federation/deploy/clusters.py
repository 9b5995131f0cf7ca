"""deploy_clusters and destroy_clusters: the member and host clusters themselves.

The original ran terraform for GCE inside a retired installer image. With
``KUBERNETES_PROVIDER=kind`` the clusters listed in ``config.json`` are
created and deleted with kind instead; other providers are refused.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass
from pathlib import Path

import yaml

from federation.core.errors import InvalidInput, PreflightFailed
from federation.core.programs import run
from federation.core.runner import Change, Step
from federation.core.status import Status
from federation.core.validation import dns1123_label
from federation.deploy.settings import DeploySettings


@dataclass(frozen=True)
class ClusterConfig:
    name: str
    pod_subnet: str
    service_subnet: str
    node_image: str


def read_config(path: Path) -> list[ClusterConfig]:
    """Parse the legacy ``config.json`` array, checking each cluster name."""
    if not path.exists():
        raise InvalidInput(f"{path} does not exist", hint="run deploy.sh init to write a sample, then edit it")
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as error:
        raise InvalidInput(f"{path} is not valid JSON: {error}", hint="fix the file, or delete it and run deploy.sh init") from None
    if not isinstance(document, list) or not document:
        raise InvalidInput(f"{path} must be a non-empty JSON array with one object per cluster", hint="see the sample deploy.sh init writes")

    clusters = []
    for index, item in enumerate(document):
        phase1 = item.get("phase1") if isinstance(item, dict) else None
        if not isinstance(phase1, dict) or not phase1.get("cluster_name"):
            raise InvalidInput(f"{path}: entry {index} has no phase1.cluster_name", hint="give every entry a phase1.cluster_name")
        name = dns1123_label(f"{path}: [{index}].phase1.cluster_name", str(phase1["cluster_name"]))
        kind = phase1.get("kind") or {}
        clusters.append(ClusterConfig(name, str(phase1.get("cluster_cidr") or ""), str(kind.get("service_cidr") or ""), str(kind.get("node_image") or "")))
    return clusters


def kind_config(cluster: ClusterConfig) -> str:
    networking = {key: value for key, value in (("podSubnet", cluster.pod_subnet), ("serviceSubnet", cluster.service_subnet)) if value}
    document = {"kind": "Cluster", "apiVersion": "kind.x-k8s.io/v1alpha4", "networking": networking}
    return yaml.safe_dump(document)


def _require_kind(settings: DeploySettings, action: str) -> None:
    if settings.provider != "kind":
        raise PreflightFailed(
            f"{action} with KUBERNETES_PROVIDER={settings.provider} needed the retired kubernetes-anywhere installer images, which no longer exist",
            hint="create the clusters with your provider's tools (gcloud container clusters create, eksctl, ...), or set KUBERNETES_PROVIDER=kind to create kind clusters",
        )


def existing_kind_clusters() -> set[str]:
    return set(run("kind", "get", "clusters", timeout=60).split())


def deploy_steps(settings: DeploySettings, status: Status) -> list[Step]:
    _require_kind(settings, "deploy_clusters")
    clusters = read_config(settings.config_path)
    kubeconfig = settings.kubeconfig_paths[0]

    def plan() -> list[Change]:
        existing = existing_kind_clusters()
        return [Change("unchanged" if item.name in existing else "create", f"kind cluster {item.name!r}", note=f"context kind-{item.name}") for item in clusters]

    def create() -> None:
        existing = existing_kind_clusters()
        for item in clusters:
            if item.name in existing:
                status.line(f"   kind cluster {item.name!r} exists, kept")
                continue
            with tempfile.NamedTemporaryFile("w", suffix=".yaml") as config:
                config.write(kind_config(item))
                config.flush()
                args = ["create", "cluster", "--name", item.name, "--kubeconfig", str(kubeconfig), "--config", config.name]
                if item.node_image:
                    args += ["--image", item.node_image]
                run("kind", *args, timeout=900)
            status.line(f"   created kind cluster {item.name!r} (context kind-{item.name})")

    return [Step("clusters", f"Creating {len(clusters)} kind clusters from {settings.config_path}", create, plan)]


def destroy_steps(settings: DeploySettings, status: Status) -> list[Step]:
    _require_kind(settings, "destroy_clusters")
    clusters = read_config(settings.config_path)
    kubeconfig = settings.kubeconfig_paths[0]

    def plan() -> list[Change]:
        existing = existing_kind_clusters()
        return [Change("delete" if item.name in existing else "absent", f"kind cluster {item.name!r}") for item in clusters]

    def delete() -> None:
        existing = existing_kind_clusters()
        for item in clusters:
            if item.name not in existing:
                status.line(f"   kind cluster {item.name!r} does not exist")
                continue
            run("kind", "delete", "cluster", "--name", item.name, "--kubeconfig", str(kubeconfig), timeout=300)
            status.line(f"   deleted kind cluster {item.name!r}")

    return [Step("clusters", f"Deleting the kind clusters listed in {settings.config_path}", delete, plan)]
