"""deploy_federation, destroy_federation and redeploy_federation as steps.

deploy_federation, in order: preflight (host reachable, storage for etcd),
service (namespace and Service, then its address), credentials (Secrets
whose certificate covers that address, reused while valid), storage (the
etcd claim), control-plane (both Deployments), kubeconfig (the
``federation-cluster`` entry) and wait (both Deployments available and the
federation API answering ``/healthz`` through the new context).
"""

from __future__ import annotations

import base64
import logging
import time
from dataclasses import dataclass, field

import yaml

from federation.core import apply as applying
from federation.core.credentials import KeyPair, ServingCredentials, serving_credentials
from federation.core.errors import PreflightFailed, WaitTimeout
from federation.core.kube import ApiError, Cluster
from federation.core.kubeconfig import Kubeconfig, remove_entries, write_entries
from federation.core.resources import describe, resource_for
from federation.core.runner import Change, Step
from federation.core.status import Status
from federation.deploy import chart
from federation.deploy.settings import DeploySettings

log = logging.getLogger(__name__)

DEPLOYMENT = resource_for("apps/v1", "Deployment")
SERVICE = resource_for("v1", "Service")
NAMESPACE = resource_for("v1", "Namespace")


@dataclass
class Job:
    """State shared by the steps of one run."""

    settings: DeploySettings
    values: dict[str, str]
    kubeconfig: Kubeconfig
    host: Cluster
    status: Status
    endpoint: str = ""  # host or host:port clients use for the federation API server
    credentials: ServingCredentials | None = None
    deployments: dict[str, dict] = field(default_factory=dict)

    @property
    def namespace(self) -> str:
        return self.values["namespace"]

    @property
    def apiserver(self) -> str:
        return self.values["apiserverName"]

    @property
    def federation_name(self) -> str:
        return self.values["controllerManagerFederationName"]

    @property
    def deadline(self) -> float:
        return time.monotonic() + self.settings.wait_timeout

    def owner_selector(self) -> str:
        return f"{applying.OWNER_LABEL}={self.federation_name}"


# -- deploy -----------------------------------------------------------------


def deploy_steps(job: Job) -> list[Step]:
    return [
        Step("preflight", f"Checking host cluster {job.host.context!r}", lambda: preflight(job), lambda: plan_preflight(job)),
        Step("service", f"Creating Service {job.namespace}/{job.apiserver} and waiting for its address", lambda: create_service(job), lambda: plan_service(job)),
        Step("credentials", "Issuing certificates and tokens", lambda: create_credentials(job), lambda: plan_credentials(job)),
        Step("storage", "Claiming storage for etcd", lambda: create_storage(job), lambda: plan_storage(job), enabled=job.values["etcdStorage"] == "persistent"),
        Step("control-plane", "Creating the API server and controller manager Deployments", lambda: create_deployments(job), lambda: applying.plan_objects(job.host, chart.deployments(job.values))),
        Step("kubeconfig", f"Writing context {job.settings.federation_context!r} to {job.settings.kubeconfig_paths[0]}", lambda: write_kubeconfig(job), lambda: plan_kubeconfig(job)),
        Step("wait", f"Waiting ≤ {job.settings.wait_timeout:.0f}s for the control plane", lambda: wait_for_control_plane(job), lambda: [Change("wait", "Deployments available and /healthz of the federation API", job.host.context)]),
    ]


def preflight(job: Job) -> None:
    if job.values["etcdStorage"] != "persistent" or job.values["etcdStorageClass"]:
        job.host.request("GET", "/version", what="reaching the host cluster")
        return

    # Listing StorageClasses doubles as the reachability check.
    classes = job.host.list("storage.k8s.io/v1", "StorageClass")
    if not any(_is_default_class(item) for item in classes):
        names = ", ".join(item["metadata"]["name"] for item in classes) or "none"
        raise PreflightFailed(
            f"host cluster {job.host.context!r} has no default StorageClass (classes: {names}), so the etcd claim would stay Pending",
            hint="mark a StorageClass as default (kubectl patch storageclass NAME -p '{\"metadata\":{\"annotations\":{\"storageclass.kubernetes.io/is-default-class\":\"true\"}}}'), "
            "or set etcdStorageClass, or set etcdStorage: emptyDir in values.yaml for a throw-away federation",
        )


def plan_preflight(job: Job) -> list[Change]:
    preflight(job)
    return []


def _is_default_class(storage_class: dict) -> bool:
    annotations = storage_class.get("metadata", {}).get("annotations") or {}
    return "true" in (annotations.get("storageclass.kubernetes.io/is-default-class"), annotations.get("storageclass.beta.kubernetes.io/is-default-class"))


# Namespaces that teardown never deletes, whatever labels they carry.
PROTECTED_NAMESPACES = frozenset({"default", "kube-system", "kube-public", "kube-node-lease"})


def ensure_namespace(job: Job) -> None:
    """Create the namespace with the ownership labels, or use an existing one as it is.

    Only a namespace deploy.sh created carries this federation's label, so
    destroy_federation deletes exactly those and keeps a namespace the user
    already had (only the labelled objects in it are deleted).
    """
    current = job.host.get("v1", "Namespace", job.namespace)
    if current is not None and not _owned(current, job):
        job.status.line(f"   using existing Namespace {job.namespace!r} as it is (destroy_federation keeps it)")
        return
    applying.apply_objects(job.host, [chart.namespace(job.values)], job.status)


def plan_namespace(job: Job) -> Change:
    current = job.host.get("v1", "Namespace", job.namespace)
    if current is not None and not _owned(current, job):
        return Change("unchanged", describe(current), job.host.context, "existing namespace used as it is")
    return applying.plan_apply(job.host, chart.namespace(job.values))


def create_service(job: Job) -> None:
    ensure_namespace(job)
    _, stored = job.host.apply(chart.service(job.values))
    job.status.line(f"   applied {describe(stored)} (type {stored['spec'].get('type')})")
    job.endpoint = service_endpoint(job, stored)
    job.status.line(f"Found federation-apiserver host at {job.endpoint}")


def plan_service(job: Job) -> list[Change]:
    changes = [plan_namespace(job), applying.plan_apply(job.host, chart.service(job.values))]
    current = job.host.get("v1", "Service", job.apiserver, job.namespace)
    if current:
        address = _known_endpoint(job, current)
        if address:
            job.endpoint = address
    return changes


def service_endpoint(job: Job, service: dict) -> str:
    """Return the address clients use: the load-balancer ingress, or a node's InternalIP and the NodePort."""
    known = _known_endpoint(job, service)
    if known:
        return known

    name = f"{job.namespace}/{job.apiserver}"

    def has_ingress(objects: dict[str, dict]) -> tuple[bool, str]:
        current = objects.get(job.apiserver)
        if current is None:
            return False, f"Service {name} not found"
        ingress = (current.get("status", {}).get("loadBalancer") or {}).get("ingress") or []
        return bool(ingress), "waiting for a load-balancer address" if not ingress else "address assigned"

    try:
        objects = job.host.wait(SERVICE, job.namespace, has_ingress, job.deadline, field_selector=f"metadata.name={job.apiserver}", on_change=lambda state: job.status.line(f"   {state}"))
    except WaitTimeout:
        raise WaitTimeout(
            f"Service {name} of type LoadBalancer got no address within {job.settings.wait_timeout:.0f}s: "
            f"the host cluster {job.host.context!r} has no load-balancer controller (kind and most local clusters have none)",
            hint="use a NodePort Service instead: set KUBERNETES_PROVIDER=kind (or local), or apiserverServiceType: NodePort in values.yaml, then run deploy_federation again",
        ) from None
    return _known_endpoint(job, objects[job.apiserver])


def _known_endpoint(job: Job, service: dict) -> str:
    spec = service.get("spec") or {}
    if spec.get("type") == "NodePort":
        port = next((item.get("nodePort") for item in spec.get("ports") or [] if item.get("nodePort")), None)
        if not port:
            return ""
        return f"{node_address(job.host)}:{port}"

    for ingress in (service.get("status", {}).get("loadBalancer") or {}).get("ingress") or []:
        if ingress.get("ip") or ingress.get("hostname"):
            return ingress.get("ip") or ingress["hostname"]
    return ""


def node_address(host: Cluster) -> str:
    """Return the first node's InternalIP, as the original did for vagrant."""
    for node in host.list("v1", "Node"):
        for address in node.get("status", {}).get("addresses") or []:
            if address.get("type") == "InternalIP":
                return address["address"]
    raise PreflightFailed(f"no node of host cluster {host.context!r} reports an InternalIP", hint="check kubectl get nodes -o wide")


# -- credentials ------------------------------------------------------------


def subject_alternative_names(job: Job) -> list[str]:
    service = job.apiserver
    host = job.endpoint.rsplit(":", 1)[0] if job.endpoint.count(":") == 1 else job.endpoint
    names = [host, service, f"{service}.{job.namespace}", f"{service}.{job.namespace}.svc", f"{service}.{job.namespace}.svc.cluster.local"]
    return list(dict.fromkeys(name for name in names if name))


def read_credentials(job: Job) -> ServingCredentials | None:
    """Read the credentials of an earlier run from its Secrets, or None."""
    secrets = {item["metadata"]["name"]: item for item in _owned_secrets(job)}
    ca = _data(secrets.get(f"{job.apiserver}-ca"))
    serving = _data(secrets.get(f"{job.apiserver}-credentials"))
    tokens = _data(secrets.get(f"{job.apiserver}-tokens"))
    if not (ca.get("ca.crt") and ca.get("ca.key") and serving.get("server.crt") and serving.get("server.key")):
        return None
    password = (serving.get("basic_auth.csv", "").split(",") or [""])[0]
    return ServingCredentials(
        KeyPair(ca["ca.crt"].encode(), ca["ca.key"].encode()),
        KeyPair(serving["server.crt"].encode(), serving["server.key"].encode()),
        tokens.get("token", ""),
        password,
    )


def _owned_secrets(job: Job) -> list[dict]:
    # One list request, no namespace lookup first: Kubernetes lists nothing in a missing namespace, and some servers answer 404.
    try:
        return job.host.list("v1", "Secret", job.namespace, job.owner_selector())
    except ApiError as error:
        if error.status == 404:
            return []
        raise


def _data(secret: dict | None) -> dict[str, str]:
    if not secret:
        return {}
    return {key: base64.b64decode(value).decode() for key, value in (secret.get("data") or {}).items()}


def generated_values(credentials: ServingCredentials, controller_manager_kubeconfig: str, endpoint_host: str) -> dict[str, str]:
    """Return the chart values deploy.sh fills in at deploy time, the credentials among them."""
    return {
        "apiserverToken": credentials.token,
        "apiserverKnownTokens": f"{credentials.token},admin,admin",
        "apiserverBasicAuth": f"{credentials.password},admin,admin",
        "caCertificate": credentials.ca.cert_pem.decode(),
        "caKey": credentials.ca.key_pem.decode(),
        "serverCertificate": credentials.server.cert_pem.decode(),
        "serverKey": credentials.server.key_pem.decode(),
        "controllerManagerKubeconfig": controller_manager_kubeconfig,
        "apiserverEndpoint": endpoint_host,
    }


def credential_objects(job: Job, credentials: ServingCredentials) -> list[dict]:
    generated = generated_values(credentials, controller_manager_kubeconfig(job, credentials), job.endpoint.split(":")[0])
    return chart.credential_objects(job.values, generated)


def controller_manager_kubeconfig(job: Job, credentials: ServingCredentials) -> str:
    name = job.settings.federation_context
    document = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": name, "cluster": {"server": f"https://{job.apiserver}", "certificate-authority-data": base64.b64encode(credentials.ca.cert_pem).decode()}}],
        "users": [{"name": name, "user": {"token": credentials.token}}],
        "contexts": [{"name": name, "context": {"cluster": name, "user": name}}],
        "current-context": name,
    }
    return yaml.safe_dump(document, sort_keys=False)


def create_credentials(job: Job) -> None:
    previous = read_credentials(job)
    job.credentials, reused = serving_credentials(previous, job.apiserver, subject_alternative_names(job))
    if reused:
        job.status.line("   reusing the credentials of the earlier run")
    elif previous:
        job.status.line("   issued a new serving certificate")
    else:
        job.status.line("   issued a new CA, serving certificate, token and password")
    applying.apply_objects(job.host, credential_objects(job, job.credentials), job.status)


def plan_credentials(job: Job) -> list[Change]:
    names = [f"Secret \"{job.namespace}/{name}\"" for name in (f"{job.apiserver}-tokens", f"{job.apiserver}-credentials", f"{job.apiserver}-ca", f"{job.values['controllerManagerName']}-kubeconfig")]
    names.append(f"ConfigMap \"{job.namespace}/{job.apiserver}-endpoint\"")
    previous = read_credentials(job)
    if previous is None:
        return [Change("create", name, job.host.context, "new credentials") for name in names]
    if not job.endpoint:
        return [Change("update", name, job.host.context, "certificate reissued once the Service has an address") for name in names]
    _, reused = serving_credentials(previous, job.apiserver, subject_alternative_names(job))
    note = "" if reused else "serving certificate reissued for the current address"
    return [Change("unchanged" if reused else "update", name, job.host.context, note) for name in names]


# -- storage and deployments ------------------------------------------------


def create_storage(job: Job) -> None:
    applying.apply_objects(job.host, [chart.etcd_claim(job.values)], job.status)


def plan_storage(job: Job) -> list[Change]:
    return [applying.plan_apply(job.host, chart.etcd_claim(job.values))]


def create_deployments(job: Job) -> None:
    applying.apply_objects(job.host, chart.deployments(job.values), job.status)


# -- kubeconfig -------------------------------------------------------------


def kubeconfig_entries(job: Job) -> tuple[dict, list[dict], dict]:
    name = job.settings.federation_context
    assert job.credentials is not None
    cluster = {"name": name, "cluster": {"server": f"https://{job.endpoint}", "certificate-authority-data": base64.b64encode(job.credentials.ca.cert_pem).decode()}}
    user = {"name": name, "user": {"token": job.credentials.token}}
    context = {"name": name, "context": {"cluster": name, "user": name}}
    return cluster, [user], context


def write_kubeconfig(job: Job) -> None:
    cluster, users, context = kubeconfig_entries(job)
    write_entries(job.settings.kubeconfig_paths[0], cluster, users, context)


def plan_kubeconfig(job: Job) -> list[Change]:
    name = job.settings.federation_context
    target = f"kubeconfig context, cluster and user {name!r} in {job.settings.kubeconfig_paths[0]}"
    if name not in job.kubeconfig.entries("contexts"):
        return [Change("create", target)]

    # Unchanged when the entry already points at the current address with the current CA and token.
    previous = read_credentials(job)
    if previous is not None and job.endpoint:
        job.credentials = previous
        cluster, users, context = kubeconfig_entries(job)
        current = (job.kubeconfig.entries("clusters").get(name), job.kubeconfig.entries("users").get(name), job.kubeconfig.entries("contexts").get(name))
        if current == (cluster, users[0], context):
            return [Change("unchanged", target)]
    return [Change("update", target)]


# -- waiting ----------------------------------------------------------------


def wait_for_control_plane(job: Job) -> None:
    deadline = job.deadline
    wanted = (job.apiserver, job.values["controllerManagerName"])

    def available(objects: dict[str, dict]) -> tuple[bool, str]:
        states = [f"{name} {_availability(objects.get(name))}" for name in wanted]
        return all(_is_available(objects.get(name)) for name in wanted), ", ".join(states)

    try:
        job.deployments = job.host.wait(DEPLOYMENT, job.namespace, available, deadline, label_selector=job.owner_selector(), on_change=lambda state: job.status.line(f"   {state}"))
    except WaitTimeout as error:
        raise WaitTimeout(f"the control plane did not become available within {job.settings.wait_timeout:.0f}s ({error.message.removeprefix('timed out: ')})\n{diagnose(job)}", hint="fix what is listed above, then run deploy_federation again; FEDERATION_WAIT_TIMEOUT sets the bound") from None

    wait_for_healthz(job, deadline)


def wait_for_healthz(job: Job, deadline: float) -> None:
    """Poll ``/healthz`` of the federation API through the new context until it returns ``ok``."""
    config = Kubeconfig.load(job.settings.kubeconfig_paths)
    api = Cluster(config, job.settings.federation_context)
    last = "no answer yet"
    while time.monotonic() < deadline:
        try:
            response = api.request("GET", "/healthz", what="checking the federation API server", stream=True, retry=False, timeout=(3.0, 5.0))
            body = response.data.decode(errors="replace").strip()
            response.release_conn()
            if body == "ok":
                job.status.line(f"Federation API server is running at: https://{job.endpoint}")
                return
            last = f"/healthz answered {body!r}"
        except (ApiError, PreflightFailed) as error:
            last = error.message
        time.sleep(0.5)
    raise WaitTimeout(f"the federation API server at https://{job.endpoint} did not respond to /healthz with ok: {last}", hint="check the API server pod's logs (kubectl logs -n %s deploy/%s -c apiserver)" % (job.namespace, job.apiserver))


def _is_available(deployment: dict | None) -> bool:
    if not deployment:
        return False
    spec_replicas = deployment.get("spec", {}).get("replicas", 1)
    status = deployment.get("status") or {}
    current = status.get("observedGeneration", 0) >= deployment.get("metadata", {}).get("generation", 0)
    return current and status.get("availableReplicas", 0) >= spec_replicas and status.get("updatedReplicas", 0) >= spec_replicas


def _availability(deployment: dict | None) -> str:
    if not deployment:
        return "not found"
    status = deployment.get("status") or {}
    return f"{status.get('availableReplicas', 0)}/{deployment.get('spec', {}).get('replicas', 1)} available"


def diagnose(job: Job) -> str:
    """Describe what is stuck: pods that are not ready, Pending claims and recent warning events."""
    lines = []
    try:
        for pod in job.host.list("v1", "Pod", job.namespace, "app=federated-cluster"):
            status = pod.get("status") or {}
            reasons = [
                f"{item['name']}: {next(iter(item.get('state', {}).values()), {}).get('reason', '')}".rstrip(": ")
                for item in status.get("containerStatuses") or []
                if not item.get("ready")
            ]
            lines.append(f"  pod {pod['metadata']['name']}: phase {status.get('phase', 'Unknown')}" + (f" ({'; '.join(reasons)})" if reasons else ""))
        for claim in job.host.list("v1", "PersistentVolumeClaim", job.namespace):
            phase = (claim.get("status") or {}).get("phase", "Pending")
            if phase != "Bound":
                lines.append(f"  claim {claim['metadata']['name']}: {phase}")
        events = job.host.list("v1", "Event", job.namespace)
        for event in events[-10:]:
            if event.get("type") == "Warning":
                lines.append(f"  event {event.get('reason', '')}: {event.get('message', '')}")
    except ApiError as error:
        lines.append(f"  (could not read the namespace's state: {error.message})")
    return "what is stuck:\n" + ("\n".join(lines) if lines else "  no pods were created (check the Deployments' events)")


def deployments_table(job: Job) -> str:
    """Format what ``kubectl get deployments --namespace=<ns>`` shows."""
    rows = [("NAME", "READY", "UP-TO-DATE", "AVAILABLE")]
    for name in sorted(job.deployments):
        deployment = job.deployments[name]
        status = deployment.get("status") or {}
        replicas = deployment.get("spec", {}).get("replicas", 1)
        rows.append((name, f"{status.get('readyReplicas', 0)}/{replicas}", str(status.get("updatedReplicas", 0)), str(status.get("availableReplicas", 0))))
    widths = [max(len(row[column]) for row in rows) for column in range(4)]
    return "\n".join("   ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in rows)


# -- destroy ----------------------------------------------------------------


def destroy_steps(job: Job) -> list[Step]:
    return [
        Step("control-plane", f"Deleting the control plane from {job.host.context!r}", lambda: delete_control_plane(job), lambda: plan_destroy(job)),
        Step("wait", f"Waiting ≤ {job.settings.wait_timeout:.0f}s for namespace {job.namespace!r} to go", lambda: wait_for_namespace_gone(job), lambda: [Change("wait", f'Namespace "{job.namespace}" gone', job.host.context)]),
        Step("kubeconfig", f"Removing context {job.settings.federation_context!r} from the kubeconfig", lambda: remove_kubeconfig(job), lambda: plan_remove_kubeconfig(job)),
    ]


def _owned(obj: dict | None, job: Job) -> bool:
    metadata = (obj or {}).get("metadata", {})
    if obj and obj.get("kind") == "Namespace" and metadata.get("name") in PROTECTED_NAMESPACES:
        return False
    return (metadata.get("labels") or {}).get(applying.OWNER_LABEL) == job.federation_name


def _owned_objects(job: Job) -> list[dict]:
    """Objects inside the namespace that carry this federation's label."""
    found = []
    for api_version, kind in (("apps/v1", "Deployment"), ("v1", "Service"), ("v1", "PersistentVolumeClaim"), ("v1", "Secret"), ("v1", "ConfigMap")):
        found.extend(job.host.list(api_version, kind, job.namespace, job.owner_selector()))
    return found


def plan_destroy(job: Job) -> list[Change]:
    namespace = job.host.get("v1", "Namespace", job.namespace)
    if namespace is None:
        return [Change("absent", f'Namespace "{job.namespace}"', job.host.context, "nothing deployed")]
    if _owned(namespace, job):
        return [Change("delete", describe(namespace), job.host.context, "with everything in it")]
    return [Change("delete", describe(obj), job.host.context) for obj in applying.sort_objects(_owned_objects(job), reverse=True)] + [
        Change("unchanged", describe(namespace), job.host.context, "not created by deploy.sh, kept")
    ]


def delete_control_plane(job: Job) -> None:
    namespace = job.host.get("v1", "Namespace", job.namespace)
    if namespace is None:
        job.status.line(f"   namespace {job.namespace!r} does not exist: nothing deployed")
        return

    if _owned(namespace, job):
        job.host.delete("v1", "Namespace", job.namespace)
        job.status.line(f"   deleted {describe(namespace)} and everything in it")
        return

    # A namespace deploy.sh did not create (e.g. values.yaml named an existing one) is kept.
    for obj in applying.sort_objects(_owned_objects(job), reverse=True):
        job.host.delete(obj["apiVersion"], obj["kind"], obj["metadata"]["name"], job.namespace)
        job.status.line(f"   deleted {describe(obj)}")


def wait_for_namespace_gone(job: Job) -> None:
    namespace = job.host.get("v1", "Namespace", job.namespace)
    if namespace is None or not _owned(namespace, job):
        return

    def gone(objects: dict[str, dict]) -> tuple[bool, str]:
        current = objects.get(job.namespace)
        return current is None, "gone" if current is None else f"namespace {job.namespace} is {current.get('status', {}).get('phase', 'Active')}"

    try:
        job.host.wait(NAMESPACE, None, gone, job.deadline, field_selector=f"metadata.name={job.namespace}")
    except WaitTimeout as error:
        leftovers = ", ".join(describe(obj) for obj in _owned_objects(job)) or "no labelled objects"
        raise WaitTimeout(f"namespace {job.namespace!r} is still there after {job.settings.wait_timeout:.0f}s ({error.message}); left: {leftovers}", hint="check kubectl get namespace %s -o yaml for finalizers that block it" % job.namespace) from None


def remove_kubeconfig(job: Job) -> None:
    name = job.settings.federation_context
    changed = remove_entries(job.kubeconfig, name, [name, f"{name}-basic-auth"], name)
    job.status.line(f"   removed {name!r} from {', '.join(str(path) for path in changed)}" if changed else f"   no kubeconfig entry {name!r} to remove")


def plan_remove_kubeconfig(job: Job) -> list[Change]:
    name = job.settings.federation_context
    present = name in job.kubeconfig.entries("contexts") or name in job.kubeconfig.entries("clusters")
    return [Change("remove" if present else "absent", f"kubeconfig context, cluster and user {name!r}")]


# -- redeploy ---------------------------------------------------------------


def redeploy_steps(job: Job) -> list[Step]:
    return [
        Step("preflight", "Checking that the control plane is deployed", lambda: require_deployed(job), lambda: require_deployed(job) or []),
        Step("control-plane", "Rolling both Deployments to the images in values.yaml", lambda: create_deployments(job), lambda: applying.plan_objects(job.host, chart.deployments(job.values))),
        Step("wait", f"Waiting ≤ {job.settings.wait_timeout:.0f}s for the rollout", lambda: wait_for_rollout(job), lambda: [Change("wait", "Deployments available", job.host.context)]),
    ]


def require_deployed(job: Job) -> None:
    if job.host.get("apps/v1", "Deployment", job.apiserver, job.namespace) is None:
        raise PreflightFailed(f"Deployment {job.namespace}/{job.apiserver} does not exist in {job.host.context!r}", hint="run deploy_federation first")


def wait_for_rollout(job: Job) -> None:
    wanted = (job.apiserver, job.values["controllerManagerName"])

    def available(objects: dict[str, dict]) -> tuple[bool, str]:
        return all(_is_available(objects.get(name)) for name in wanted), ", ".join(f"{name} {_availability(objects.get(name))}" for name in wanted)

    job.deployments = job.host.wait(DEPLOYMENT, job.namespace, available, job.deadline, label_selector=job.owner_selector())
