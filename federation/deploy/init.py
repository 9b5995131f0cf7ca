"""The ``init`` action: prepare FEDERATION_OUTPUT_ROOT and report the prerequisites.

The original pulled two installer images. Nothing needs pulling now, so init
writes the starting files instead and checks what deploy_federation will
need, reporting each finding without failing on it.
"""

from __future__ import annotations

import json

from federation.core.errors import FederationError, InvalidInput
from federation.core.files import atomic_write
from federation.core.kube import Cluster
from federation.core.kubeconfig import Kubeconfig
from federation.core.status import Status
from federation.deploy import chart
from federation.deploy.settings import DeploySettings, check_writable

VALUES_HEADER = """\
# Values for deploy.sh deploy_federation, written by deploy.sh init.
#
# Every key of the federation chart is listed with its default. Change what
# you need; deploy.sh keeps this file as it is on later runs, and
# develop.sh push rewrites only the four image keys.
#
"""

# The cluster list deploy_clusters reads: the original sample's layout (an
# array of phase1/phase2/phase3 objects), with a kind section for the
# clusters this port can create itself.
SAMPLE_CONFIG = [
    {
        "phase1": {
            "num_nodes": 1,
            "cluster_name": f"cluster{index}-kubernetes",
            "cloud_provider": "kind",
            "cluster_cidr": f"10.{240 + index}.0.0/16",
            "kind": {"service_cidr": f"10.{250 + index}.0.0/16", "node_image": ""},
        },
        "phase2": {"docker_registry": "gcr.io/google-containers", "kubernetes_version": "v1.4.0"},
        "phase3": {"run_addons": True, "kube_proxy": True, "dashboard": True, "heapster": True, "kube_dns": True},
    }
    for index in (1, 2, 3)
]


def run_init(settings: DeploySettings, status: Status, dry_run: bool = False) -> list[str]:
    """Create the output root and its starting files; return the prerequisite report lines."""
    root = settings.output_root
    check_writable(root)
    planned = []
    if not settings.values_path.exists():
        planned.append(f"write {settings.values_path}")
    if not settings.config_path.exists():
        planned.append(f"write {settings.config_path}")

    if dry_run:
        for line in planned or ["nothing to write: values.yaml and config.json exist"]:
            print(line)
        return []

    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        # A dangling symlink or a path under a pseudo file system gets here despite check_writable.
        raise InvalidInput.variable("FEDERATION_OUTPUT_ROOT", str(root), f"cannot be created: {error.strerror}", "point it at a directory you can create, or remove what is in the way") from None
    if not settings.values_path.exists():
        atomic_write(settings.values_path, values_file_text(), 0o644)
        status.line(f"wrote {settings.values_path}")
    else:
        status.line(f"kept {settings.values_path}")
    if not settings.config_path.exists():
        atomic_write(settings.config_path, json.dumps(SAMPLE_CONFIG, indent=2) + "\n", 0o644)
        status.line(f"wrote {settings.config_path}")
    else:
        status.line(f"kept {settings.config_path}")

    report = prerequisites(settings)
    for line in report:
        status.line(line)
    return report


def values_file_text() -> str:
    """Return the chart defaults with their comments, under a header."""
    defaults = chart.DEFAULTS_PATH.read_text(encoding="utf-8")
    # The defaults file opens with a paragraph about itself, which would be wrong in the user's copy.
    body = defaults.split("\n\n", 1)[1] if defaults.startswith("#") and "\n\n" in defaults else defaults
    return VALUES_HEADER + body


def prerequisites(settings: DeploySettings) -> list[str]:
    """Check kubeconfig, host context, default StorageClass and load-balancer support."""
    lines = ["Prerequisites:"]
    try:
        config = Kubeconfig.load(settings.kubeconfig_paths)
        context = config.resolve_context(settings.host_context, "FEDERATION_HOST_CLUSTER_CONTEXT")
    except FederationError as error:
        return lines + [f"  ✗ kubeconfig: {error.message}", f"    {error.hint}" if error.hint else ""]
    lines.append(f"  ✓ kubeconfig: {', '.join(str(path) for path in config.documents)}")

    host = Cluster(config, context)
    try:
        version = host.request("GET", "/version", what="reaching the host cluster", retry=False)
    except FederationError as error:
        return lines + [f"  ✗ host cluster {context!r}: {error.message}"]
    lines.append(f"  ✓ host cluster {context!r} at {host.server} (Kubernetes {version.get('gitVersion', '?')})")

    classes = host.list("storage.k8s.io/v1", "StorageClass")
    defaults = [item["metadata"]["name"] for item in classes if (item["metadata"].get("annotations") or {}).get("storageclass.kubernetes.io/is-default-class") == "true"]
    lines.append(f"  ✓ default StorageClass: {defaults[0]}" if defaults else "  ✗ no default StorageClass: set etcdStorageClass or etcdStorage: emptyDir in values.yaml")

    if settings.provider in ("kind", "local", "vagrant"):
        lines.append(f"  ✓ KUBERNETES_PROVIDER={settings.provider}: the API server gets a NodePort Service")
    else:
        lines.append(f"  • KUBERNETES_PROVIDER={settings.provider}: the API server gets a LoadBalancer Service; without a load-balancer controller, use KUBERNETES_PROVIDER=kind or apiserverServiceType: NodePort")
    return [line for line in lines if line]


