"""Pure logic of the kind backend: names, ownership, networks, kubeconfig merge, skip reasons.

Nothing here runs a program or touches Docker, so all of it is unit-tested
on machines without kind (tests/unit/test_kind_backend.py).
"""

from __future__ import annotations

import copy
import ipaddress
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

# Roles of the three clusters, in creation order.
ROLES = ("host", "member1", "member2")

NAME_PREFIX = "fe2e"
RUN_ID_PATTERN = re.compile(r"^[a-z0-9]{4,12}$")
# Kubernetes node label the kind config puts on every node, so `kubectl get nodes -L` shows the run.
RUN_LABEL = "federation-e2e.k8s.io/run"
MARKER_SUFFIX = ".owner"

# Context names the scenarios see. The host and member1 keep kind's own
# context name (kind-<cluster>) because the member endpoint rewrite finds
# the control-plane container from it. member2 gets a context name that is
# not kind's, as users rename contexts, and so a server address that pods
# of the host cluster reach without any rewrite (its container address).
MEMBER2_CONTEXT = "admin@kind:member2/eu"

# Every cluster of a run gets its own /16 from each range, so the pod routes
# and Service addresses of one cluster never shadow another's.
POD_RANGE = "10.240.0.0/12"
SERVICE_RANGE = "10.96.0.0/12"
SUBNET_PREFIX = 16

KIND_CONFIG_API_VERSION = "kind.x-k8s.io/v1alpha4"

# Where tests/e2e/conftest.py keeps each test's reports (setup, call, teardown) by phase.
REPORTS = pytest.StashKey[dict]()


# -- names and ownership ------------------------------------------------------


def cluster_names(run_id: str) -> dict[str, str]:
    """Return the kind cluster name of each role for one test run, e.g. ``fe2e-1a2b3c-host``."""
    if not RUN_ID_PATTERN.match(run_id):
        raise ValueError(f"run id {run_id!r} must be 4 to 12 lowercase letters or digits")
    return {role: f"{NAME_PREFIX}-{run_id}-{role}" for role in ROLES}


def kind_context(cluster_name: str) -> str:
    """Return the kubeconfig context kind writes for ``cluster_name``."""
    return f"kind-{cluster_name}"


def marker_path(state_dir: Path, cluster_name: str) -> Path:
    return state_dir / f"{cluster_name}{MARKER_SUFFIX}"


def marker_text(run_id: str, cluster_name: str) -> str:
    return f"run={run_id}\ncluster={cluster_name}\n"


def is_owned(cluster_name: str, run_id: str, state_dir: Path) -> bool:
    """Return True only for a cluster this run named and recorded before creating it.

    Both conditions must hold: the name carries this run's prefix, and the
    marker file written before ``kind create cluster`` names this run. A
    cluster that existed before the run never gets a marker.
    """
    if not cluster_name.startswith(f"{NAME_PREFIX}-{run_id}-"):
        return False
    marker = marker_path(state_dir, cluster_name)
    try:
        return marker.read_text() == marker_text(run_id, cluster_name)
    except OSError:
        return False


def name_conflicts(names: list[str], existing: list[str]) -> list[str]:
    """Return the names that kind already has, which this run must neither reuse nor delete."""
    return sorted(set(names) & set(existing))


# -- networks -----------------------------------------------------------------


@dataclass(frozen=True)
class Networks:
    pod_subnet: str
    service_subnet: str


def allocate_subnets(supernet: str, count: int, prefix: int = SUBNET_PREFIX, avoid: tuple[str, ...] = ()) -> list[str]:
    """Return ``count`` distinct subnets of size ``/prefix`` from ``supernet`` that overlap nothing in ``avoid``."""
    pool = ipaddress.ip_network(supernet)
    blocked = [ipaddress.ip_network(item) for item in avoid]
    chosen = []
    for subnet in pool.subnets(new_prefix=prefix):
        if any(subnet.overlaps(other) for other in blocked):
            continue
        chosen.append(str(subnet))
        if len(chosen) == count:
            return chosen
    raise ValueError(f"{supernet} has fewer than {count} free /{prefix} subnets outside {', '.join(avoid) or 'nothing'}")


def allocate_networks(roles: tuple[str, ...] = ROLES, avoid: tuple[str, ...] = ()) -> dict[str, Networks]:
    """Give every role a pod and a service subnet that overlap no other cluster's and nothing in ``avoid``."""
    pods = allocate_subnets(POD_RANGE, len(roles), avoid=avoid)
    services = allocate_subnets(SERVICE_RANGE, len(roles), avoid=(*avoid, *pods))
    return {role: Networks(pod, service) for role, pod, service in zip(roles, pods, services)}


def kind_config(networks: Networks, run_id: str) -> dict:
    """Return the kind ``Cluster`` config document of one cluster."""
    return {
        "kind": "Cluster",
        "apiVersion": KIND_CONFIG_API_VERSION,
        "networking": {"podSubnet": networks.pod_subnet, "serviceSubnet": networks.service_subnet},
        "nodes": [{"role": "control-plane", "labels": {RUN_LABEL: run_id}}],
    }


# -- kubeconfig ---------------------------------------------------------------


def container_server(address: str, port: int = 6443) -> str:
    """Return the API server URL at a control-plane container's address (IPv6 in brackets)."""
    parsed = ipaddress.ip_address(address)
    host = f"[{parsed}]" if parsed.version == 6 else str(parsed)
    return f"https://{host}:{port}"


@dataclass
class ContextPlan:
    """How one cluster's kind kubeconfig enters the merged kubeconfig."""

    document: dict  # the kubeconfig kind wrote for this cluster
    context: str  # context name in the merged kubeconfig
    server: str | None = None  # replaces the cluster's server URL when set


def merge_kubeconfigs(plans: list[ContextPlan], current_context: str) -> dict:
    """Merge one-context kubeconfigs into one, renaming contexts and replacing servers as planned.

    Cluster and user entries keep kind's names (``kind-<cluster>``), which
    are unique per cluster. Raises ValueError when a document does not have
    exactly one context, or two plans ask for the same context name.
    """
    merged: dict = {"apiVersion": "v1", "kind": "Config", "preferences": {}, "clusters": [], "users": [], "contexts": []}
    seen: set[str] = set()
    for plan in plans:
        if plan.context in seen:
            raise ValueError(f"context {plan.context!r} is planned twice")
        seen.add(plan.context)

        document = copy.deepcopy(plan.document)
        contexts = document.get("contexts") or []
        if len(contexts) != 1:
            raise ValueError(f"a kind kubeconfig has exactly one context, this one has {len(contexts)}")
        context = contexts[0]["context"]
        cluster = next(item for item in document["clusters"] if item["name"] == context["cluster"])
        user = next(item for item in document["users"] if item["name"] == context["user"])

        if plan.server:
            cluster["cluster"]["server"] = plan.server
        merged["clusters"].append(cluster)
        merged["users"].append(user)
        merged["contexts"].append({"name": plan.context, "context": context})

    if current_context not in seen:
        raise ValueError(f"current context {current_context!r} is not among {sorted(seen)}")
    merged["current-context"] = current_context
    return merged


# -- images -------------------------------------------------------------------


def parse_image_list(value: str) -> list[str]:
    """Split ``FEDERATION_TEST_IMAGES`` (commas or whitespace) into image references, rejecting junk."""
    images = [item for item in re.split(r"[\s,]+", value.strip()) if item]
    for image in images:
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._/:@-]*", image):
            raise ValueError(f"FEDERATION_TEST_IMAGES entry {image!r} is not an image reference such as registry/name:tag")
    return images


# -- skip reasons -------------------------------------------------------------


@dataclass
class Probe:
    """What was found on this machine; None means the check did not run because an earlier one failed."""

    pytest_kind: bool = True
    kind: str | None = None  # resolved path of the kind binary
    kind_source: str = "PATH"  # where the kind binary was looked for
    kubectl: str | None = None
    kubectl_source: str = "PATH"
    docker: str | None = None
    docker_error: str | None = None  # `docker info` failed with this message
    image_present: bool | None = None
    privileged_error: str | None = None  # `docker run --privileged <node image> true` failed with this message


def skip_reason(probe: Probe, node_image: str) -> str | None:
    """Return why the kind backend cannot run here, or None when it can."""
    if not probe.pytest_kind:
        return "kind backend: pytest-kind-ng is not installed (pip install -e '.[kind]')"
    if probe.kind is None:
        return f"kind backend: kind binary not found in {probe.kind_source} (install kind, or set KIND or --kind-bin to its path)"
    if probe.kubectl is None:
        return f"kind backend: kubectl binary not found in {probe.kubectl_source} (set KUBECTL or --kind-kubectl-bin to its path)"
    if probe.docker is None:
        return "kind backend: docker binary not found in PATH (kind runs its nodes as Docker containers)"
    if probe.docker_error is not None:
        return f"kind backend: Docker is not reachable: {first_line(probe.docker_error)}"
    if not probe.image_present:
        return f"kind backend: node image {node_image} is not present (docker pull {node_image}); the tests never pull it"
    if probe.privileged_error is not None:
        return f"kind backend: privileged containers are not allowed here (kind nodes need them): {first_line(probe.privileged_error)}"
    return None


def first_line(text: str, limit: int = 200) -> str:
    line = next((item.strip() for item in text.splitlines() if item.strip()), "no output")
    return line if len(line) <= limit else line[: limit - 3] + "..."


# -- scenarios that need what kind clusters lack ------------------------------

_NEEDS_LOAD_BALANCER = "sets KUBERNETES_PROVIDER=gce, which waits for a LoadBalancer ingress address, and kind has no load-balancer controller"
_NEEDS_KUBE_DNS = "needs a member running kube-dns, and kind clusters run CoreDNS"

# Test function name -> why it cannot pass on kind clusters. The rest of a
# scenario module runs on kind unchanged.
KIND_GAPS = {
    "test_docs_command_line_brings_up_federation": _NEEDS_LOAD_BALANCER,
    "test_second_run_converges_with_same_token": _NEEDS_LOAD_BALANCER,
    "test_down_leaves_nothing": _NEEDS_LOAD_BALANCER,
    "test_host_context_argument": _NEEDS_LOAD_BALANCER,
    "test_coredns_provider_config_mounted": _NEEDS_LOAD_BALANCER,
    "test_join_kube_dns_keeps_other_keys": _NEEDS_KUBE_DNS,
    "test_join_kube_dns_creates_and_removes_configmap": _NEEDS_KUBE_DNS,
    "test_deploy_uses_pushed_image": "pushes to a registry on the test machine's 127.0.0.1, which kind nodes cannot pull from",
}


def kind_gap(test_name: str) -> str | None:
    """Return why the scenario ``test_name`` (with or without its [parameters]) cannot pass on kind, or None."""
    return KIND_GAPS.get(test_name.split("[", 1)[0])


def log_directory(root: Path, node_id: str) -> Path:
    """Return the directory for ``kind export logs`` of one test, named after its node id."""
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", node_id).strip("_")
    return root / safe
