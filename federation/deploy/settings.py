"""Settings of deploy.sh, read from the same variables as the original.

| Variable | Default | Effect |
|---|---|---|
| FEDERATION_OUTPUT_ROOT | required | values.yaml, config.json and .env live here |
| KUBERNETES_PROVIDER | gce | kind, local and vagrant give a NodePort Service |
| KUBE_CONFIG | unset | one kubeconfig file; wins over KUBECONFIG when set |
| KUBECONFIG | ~/.kube/config | kubeconfig files (':'-separated); entries go to the first |
| KUBE_CONFIG_DIR | ~/.kube | where deploy_clusters writes per-cluster kubeconfigs |
| FEDERATION_HOST_CLUSTER_CONTEXT | current context | the host cluster |
| FEDERATION_KUBE_CONTEXT | federation-cluster | context written for the federation API server |
| FEDERATION_WAIT_TIMEOUT | 300 | seconds each bounded wait may take |
| FEDERATION_CLUSTERS | empty | member contexts joined by join_clusters |
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from federation.core.environment import Environment
from federation.core.errors import InvalidInput
from federation.core.kubeconfig import kubeconfig_paths
from federation.core.validation import dns1123_subdomain

PROVIDERS = ("gce", "gke", "aws", "kind", "local", "vagrant")
NODEPORT_PROVIDERS = ("kind", "local", "vagrant")
DEFAULT_CONTEXT = "federation-cluster"


@dataclass(frozen=True)
class DeploySettings:
    output_root: Path
    provider: str
    kubeconfig_paths: list[Path]
    kube_config_dir: Path
    host_context: str  # empty: the kubeconfig's current context
    federation_context: str
    wait_timeout: float
    member_contexts: list[str]

    @property
    def values_path(self) -> Path:
        return self.output_root / "values.yaml"

    @property
    def config_path(self) -> Path:
        return self.output_root / "config.json"


def output_root(env: Environment) -> Path:
    """Return ``FEDERATION_OUTPUT_ROOT``, rejecting an unset value or a path that is a file."""
    raw = env.value("FEDERATION_OUTPUT_ROOT")
    if not raw:
        raise InvalidInput(
            "FEDERATION_OUTPUT_ROOT is not set",
            hint="set it to a directory for values.yaml and config.json, e.g. FEDERATION_OUTPUT_ROOT=$PWD/_output/federation",
        )
    path = Path(raw).expanduser()
    if path.exists() and not path.is_dir():
        raise InvalidInput.variable("FEDERATION_OUTPUT_ROOT", raw, "is a file, not a directory", "point it at a directory, or remove the file")
    return path.absolute()


def load(env: Environment) -> DeploySettings:
    """Read and check every variable; raise ``InvalidInput`` before anything is written."""
    root = output_root(env)

    provider = env.value("KUBERNETES_PROVIDER", "gce")
    if provider not in PROVIDERS:
        raise InvalidInput.variable("KUBERNETES_PROVIDER", provider, f"is not one of: {', '.join(PROVIDERS)}", "set KUBERNETES_PROVIDER to one of those")

    kube_config = env.value("KUBE_CONFIG")
    paths = [Path(kube_config).expanduser()] if kube_config else kubeconfig_paths(env)
    home = Path(env.value("HOME", str(Path.home())))
    config_dir = Path(env.value("KUBE_CONFIG_DIR", str(home / ".kube"))).expanduser()

    context = env.value("FEDERATION_KUBE_CONTEXT", DEFAULT_CONTEXT)
    dns1123_subdomain("FEDERATION_KUBE_CONTEXT", context)

    raw_timeout = env.value("FEDERATION_WAIT_TIMEOUT", "300")
    try:
        timeout = float(raw_timeout)
    except ValueError:
        timeout = -1.0
    if not 0 < timeout <= 86400:
        name = "--timeout" if env.source("FEDERATION_WAIT_TIMEOUT") == "command line" else "FEDERATION_WAIT_TIMEOUT"
        raise InvalidInput.variable(name, raw_timeout, "is not a number of seconds between 1 and 86400", f"set {name} to e.g. 300")

    members = [item for item in re.split(r"[,\s]+", env.value("FEDERATION_CLUSTERS")) if item]

    return DeploySettings(
        output_root=root,
        provider=provider,
        kubeconfig_paths=paths,
        kube_config_dir=config_dir,
        host_context=env.value("FEDERATION_HOST_CLUSTER_CONTEXT"),
        federation_context=context,
        wait_timeout=timeout,
        member_contexts=members,
    )


def check_writable(root: Path) -> None:
    """Reject an output root that cannot be created or written, before anything is written."""
    existing = root
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir() or not os.access(existing, os.W_OK | os.X_OK):
        raise InvalidInput.variable(
            "FEDERATION_OUTPUT_ROOT",
            str(root),
            f"is not writable ({existing} does not allow this user to write)",
            "choose a directory you own, or fix its permissions",
        )
