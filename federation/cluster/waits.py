"""Bounded waits of federation-up.sh, with the original's progress lines and a report of what is stuck."""

from __future__ import annotations

import time

from federation.core.errors import WaitTimeout
from federation.core.kube import ApiError, Cluster, Unreachable
from federation.core.resources import resource_for
from federation.core.status import Status

PODS = resource_for("v1", "Pod")
SERVICES = resource_for("v1", "Service")
RECENT_EVENTS = 5
RETRY_SECONDS = 1.0
WAITING_FOR_ADDRESS = "Waiting for load balancer status to be set"


def load_balancer_address(cluster: Cluster, namespace: str, service: str, seconds: float, status: Status) -> str:
    """Wait until the LoadBalancer Service has an ingress IP or hostname, and return it."""

    def check(objects: dict[str, dict]) -> tuple[bool, str]:
        ingress = (((objects.get(service) or {}).get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
        for entry in ingress:
            address = entry.get("ip") or entry.get("hostname")
            if address:
                return True, address
        return False, WAITING_FOR_ADDRESS

    def report(state: str) -> None:
        # When done, the state is the address, which the caller prints in the original's words.
        if state == WAITING_FOR_ADDRESS:
            status.line(state)

    deadline = time.monotonic() + seconds
    try:
        objects = cluster.wait(SERVICES, namespace, check, deadline, field_selector=f"metadata.name={service}", on_change=report)
    except WaitTimeout:
        raise WaitTimeout(
            f"Could not find ingress hostname for {service} loadbalancer service: Service {namespace}/{service} of type LoadBalancer got no address within {seconds:g}s",
            hint="the host cluster may have no load balancer implementation: KUBERNETES_PROVIDER=kind or KUBERNETES_PROVIDER=local exposes the API server through a "
            "NodePort Service instead (or raise FEDERATION_WAIT_TIMEOUT if the load balancer is only slow)",
        ) from None
    return check(objects)[1]


def pod_running(cluster: Cluster, namespace: str, module: str, seconds: float, status: Status) -> None:
    """Wait until a pod labelled ``module`` runs, printing each phase change; report the pods and events on timeout."""
    selector = f"app=federated-cluster,module={module}"

    def check(objects: dict[str, dict]) -> tuple[bool, str]:
        live = [pod for pod in objects.values() if not pod["metadata"].get("deletionTimestamp")]
        phases = sorted({(pod.get("status") or {}).get("phase", "") for pod in live})
        return "Running" in phases, "/".join(phases)

    def report(phase: str) -> None:
        status.line(f"Waiting for {module} to be running...(phase= {phase})")

    deadline = time.monotonic() + seconds
    try:
        cluster.wait(PODS, namespace, check, deadline, label_selector=selector, on_change=report)
    except WaitTimeout:
        status.line(f"{module} pod is not running! giving up.")
        raise WaitTimeout(
            f"no {module} pod was running after {seconds:g}s: {describe_pods(cluster, namespace, selector)}",
            hint=f"kubectl --context={cluster.context} -n {namespace} describe pods -l {selector} shows the same; "
            "check that the image can be pulled and that the etcd volume is bound, or raise FEDERATION_WAIT_TIMEOUT",
        ) from None
    status.line(f"{module} pod is running!")


def federation_api(cluster: Cluster, seconds: float, status: Status) -> None:
    """Wait until the federation API server lists Clusters through the new kubeconfig context, over verified TLS."""
    deadline = time.monotonic() + seconds
    last_error = ""
    while True:
        try:
            cluster.list("federation/v1beta1", "Cluster")
            status.line(f"Federation API server is running at: {cluster.server}")
            return
        except (ApiError, Unreachable) as error:
            last_error = error.message
        if time.monotonic() + RETRY_SECONDS > deadline:
            raise WaitTimeout(
                f"the federation API server at {cluster.server} did not respond within {seconds:g}s: {last_error}",
                hint=f"kubectl --context={cluster.context} get clusters shows the same; check the apiserver container's log",
            )
        time.sleep(RETRY_SECONDS)


def describe_pods(cluster: Cluster, namespace: str, selector: str) -> str:
    """Summarise the matching pods (phase, container states) and the namespace's latest events."""
    try:
        pods = cluster.list("v1", "Pod", namespace, label_selector=selector)
        events = cluster.list("v1", "Event", namespace)
    except (ApiError, Unreachable) as error:
        return f"cannot read the pods: {error.message}"

    parts = []
    for pod in pods:
        states = []
        for container in (pod.get("status") or {}).get("containerStatuses") or []:
            state = container.get("state") or {}
            kind = next(iter(state), "unknown")
            reason = (state.get(kind) or {}).get("reason", "")
            states.append(f"{container.get('name')}={kind}{'(' + reason + ')' if reason else ''}")
        phase = (pod.get("status") or {}).get("phase", "unknown")
        parts.append(f"pod {pod['metadata']['name']} phase {phase}" + (f", containers {' '.join(states)}" if states else ""))
    if not pods:
        parts.append("no pods match (check the Deployment's ReplicaSet events)")

    events.sort(key=lambda event: event.get("lastTimestamp") or event.get("eventTime") or "")
    for event in events[-RECENT_EVENTS:]:
        involved = event.get("involvedObject") or {}
        parts.append(f"event {involved.get('kind', '')}/{involved.get('name', '')}: {event.get('reason', '')} {event.get('message', '')}".rstrip())
    return "; ".join(parts)
