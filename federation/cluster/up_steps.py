"""The steps of federation-up.sh: check, expose, credentials, storage, control plane, kubeconfig, wait, register.

The order follows the original: the Service comes before the credentials
because the serving certificate must name the address the Service gets.
Every write is a server-side apply, so a second run converges instead of
deleting and recreating, and nothing the scripts did not create is touched.
"""

from __future__ import annotations

import time

from federation.cluster import controlplane, waits
from federation.cluster.apiserver_credentials import DIRECT_LAYOUT, KUBEFED_LAYOUT, ApiserverCredentials, ensure, server_sans
from federation.cluster.controlplane import Endpoint
from federation.cluster.ownership import PROTECTED_NAMESPACES, owns_namespace
from federation.cluster.settings import UpSettings
from federation.core.apply import OWNER_LABEL, apply_objects, plan_objects
from federation.core.dns import nameservers_from_provider_config
from federation.core.errors import ExitCode, FederationError, PreflightFailed
from federation.core.kube import ApiError, Cluster
from federation.core.kubeconfig import Kubeconfig, write_entries
from federation.core.runner import Change, Step
from federation.core.status import Status

DEFAULT_CLASS_ANNOTATIONS = ("storageclass.kubernetes.io/is-default-class", "storageclass.beta.kubernetes.io/is-default-class")
RBAC_GROUP = "rbac.authorization.k8s.io"
PENDING_HOST = "pending.invalid"  # placeholder for the Service address in a dry run before the Service exists


class RbacUnavailable(FederationError):
    """The host cluster never served the RBAC API group, which the kubefed-era objects need."""

    exit_code = ExitCode.RBAC_UNAVAILABLE


class UpJob:
    """One federation-up.sh run: the state the steps share (address, credentials, members)."""

    def __init__(self, settings: UpSettings, status: Status) -> None:
        self.settings = settings
        self.status = status
        self.host = Cluster(settings.kubeconfig, settings.host_context)
        self.endpoint: Endpoint | None = None
        self.credentials: ApiserverCredentials | None = None
        self.dns_provider_config: bytes | None = None
        self.nameservers: list[str] = []  # CoreDNS endpoints that members forward the federation zone to
        self.members: list = []  # registration.Member, built in preflight so bad member input fails before any write

    def steps(self) -> list[Step]:
        return [
            Step("preflight", "check the host cluster and the member kubeconfigs", self.preflight, self.plan_preflight),
            Step("service", "expose the federation API server", self.expose, self.plan_service),
            Step("credentials", "make or reuse the CA, serving certificate, token and password", self.make_credentials, self.plan_credentials),
            Step("storage", "claim etcd storage", self.claim_storage, self.plan_storage, enabled=self.settings.use_pv_for_etcd),
            Step("control-plane", "deploy the API server and the controller manager", self.deploy, self.plan_control_plane),
            Step("kubeconfig", f"write context {self.settings.kube_context} to {self.settings.kubeconfig_path}", self.write_kubeconfig, self.plan_kubeconfig),
            Step("wait", "wait for the control plane", self.wait, self.plan_wait),
            Step("register", "register the member clusters", self.register, self.plan_register, enabled=bool(self.settings.member_files or self.settings.member_contexts)),
        ]

    # -- preflight ----------------------------------------------------------

    def preflight(self) -> None:
        self.check_host()
        owner = federation_name_conflict(self.host, self.settings)
        if owner:
            raise PreflightFailed(
                f"namespace {self.settings.namespace} in context {self.host.context} belongs to federation {owner!r}, not {self.settings.federation_name!r}",
                hint=f"set FEDERATION_NAME={owner} to update that federation, or set FEDERATION_NAMESPACE to another namespace",
            )
        if self.settings.use_kubefed:
            self.wait_for_rbac()
        if self.settings.use_pv_for_etcd:
            self.check_default_storage_class()
        if self.settings.service_type == "NodePort":
            self.node_address()
        self.dns_provider_config = controlplane.read_dns_provider_config(self.settings)
        if self.settings.dns_provider == "coredns" and self.dns_provider_config is not None:
            self.nameservers = nameservers_from_provider_config(self.dns_provider_config.decode(errors="replace"))
        self.members = self.load_members()

    def plan_preflight(self) -> list[Change]:
        self.preflight()
        return [Change("run", "host cluster checks", self.host.context, "passed")]

    def check_host(self) -> None:
        version = self.host.request("GET", "/version", what="reading the host cluster's version")
        self.status.line(f"Host cluster context {self.host.context} ({self.settings.host_context_source}), Kubernetes {version.get('gitVersion', 'unknown version')}")

    def wait_for_rbac(self) -> None:
        """Wait, bounded, until the host serves the RBAC API group, as the kubefed-era wait_for_rbac did."""
        deadline = time.monotonic() + self.settings.wait_seconds
        groups: list[str] = []
        while True:
            answer = self.host.request("GET", "/apis", what="listing the host cluster's API groups")
            groups = [group.get("name", "") for group in answer.get("groups") or []]
            if RBAC_GROUP in groups:
                self.status.line(f"{RBAC_GROUP} API group is available")
                return
            if time.monotonic() + 1 > deadline:
                raise RbacUnavailable(
                    f"timed out waiting for the {RBAC_GROUP} API group in context {self.host.context} after {self.settings.wait_seconds:g}s; it serves: {', '.join(groups) or '(no groups)'}",
                    hint="enable RBAC on the host cluster's API server (--authorization-mode=...,RBAC)",
                )
            time.sleep(1)

    def check_default_storage_class(self) -> None:
        claim = controlplane.storage(self.settings)[0]["metadata"]
        if self.host.get("v1", "PersistentVolumeClaim", claim["name"], claim["namespace"]) is not None:
            return
        classes = self.host.list("storage.k8s.io/v1", "StorageClass")
        defaults = [c["metadata"]["name"] for c in classes if any((c["metadata"].get("annotations") or {}).get(key) == "true" for key in DEFAULT_CLASS_ANNOTATIONS)]
        if not defaults:
            raise PreflightFailed(
                f"the host cluster (context {self.host.context}) has no default StorageClass, so the etcd claim {claim['name']} would never bind",
                hint="mark a StorageClass as default (kubectl annotate storageclass NAME storageclass.kubernetes.io/is-default-class=true), "
                "or set FEDERATION_USE_PV_FOR_ETCD=false to keep etcd data in an emptyDir that is lost with the pod",
            )

    def node_address(self) -> str:
        """Return the first node's InternalIP, where the NodePort Service is reached."""
        for node in self.host.list("v1", "Node"):
            for address in (node.get("status") or {}).get("addresses") or []:
                if address.get("type") == "InternalIP" and address.get("address"):
                    return address["address"]
        raise PreflightFailed(
            f"no node of the host cluster (context {self.host.context}) reports an InternalIP, so the NodePort Service cannot be reached",
            hint="check kubectl get nodes -o wide, or use a provider with a load balancer (gce, gke, aws)",
        )

    def load_members(self) -> list:
        from federation.core.registration import member_from_context, member_from_file

        members = [member_from_file(path, name) for name, path in self.settings.member_files.items()]
        members += [member_from_context(self.settings.kubeconfig, context) for context in self.settings.member_contexts]
        names = [member.name for member in members]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise PreflightFailed(
                f"two member clusters would both be registered as {', '.join(duplicates)}",
                hint="remove the duplicate from FEDERATION_CLUSTERS or from the member kubeconfig directories",
            )
        return members

    # -- service ------------------------------------------------------------

    def expose(self) -> None:
        namespace, kept_because = self.namespace_to_apply()
        if kept_because:
            self.status.line(f"Namespace {self.settings.namespace!r} {kept_because}, so it is used as it is and federation-down.sh will keep it")
        apply_objects(self.host, [*namespace, controlplane.service(self.settings)], self.status)
        service = self.settings.apiserver_name
        if self.settings.service_type == "LoadBalancer":
            host = waits.load_balancer_address(self.host, self.settings.namespace, service, self.settings.wait_seconds, self.status)
            self.endpoint = Endpoint(host, 443)
        else:
            stored = self.host.get("v1", "Service", service, self.settings.namespace) or {}
            port = ((stored.get("spec") or {}).get("ports") or [{}])[0].get("nodePort") or self.settings.node_port
            self.endpoint = Endpoint(self.node_address(), int(port))
        self.status.line(f"Found {service} host at {self.endpoint.host}")

    def plan_service(self) -> list[Change]:
        self.endpoint = self.current_endpoint()
        namespace, kept_because = self.namespace_to_apply()
        changes = plan_objects(self.host, [*namespace, controlplane.service(self.settings)])
        if kept_because:
            changes.insert(0, Change("unchanged", f'Namespace "{self.settings.namespace}"', self.host.context, f"{kept_because}, used as it is and kept by federation-down.sh"))
        return changes

    def namespace_to_apply(self) -> tuple[list[dict], str]:
        """Return the namespace to apply, or nothing and the reason an existing namespace is left untouched.

        Only a namespace this run creates, or one that already carries this
        federation's label, gets the ownership labels. federation-down.sh
        deletes a namespace only by that label, so a namespace the user had
        before keeps everything else in it.
        """
        name = self.settings.namespace
        stored = self.host.get("v1", "Namespace", name)
        if stored is None or owns_namespace(stored, self.settings.federation_name):
            return [controlplane.namespace(self.settings)], ""
        if name in PROTECTED_NAMESPACES:
            return [], "is a system namespace"
        return [], f"exists without the label {OWNER_LABEL}={self.settings.federation_name}"

    def current_endpoint(self) -> Endpoint:
        """Return the address the Service has now, or a placeholder before it exists (dry run only)."""
        stored = self.host.get("v1", "Service", self.settings.apiserver_name, self.settings.namespace) or {}
        if self.settings.service_type == "NodePort":
            port = ((stored.get("spec") or {}).get("ports") or [{}])[0].get("nodePort") or self.settings.node_port
            return Endpoint(self.node_address(), int(port))
        for entry in ((stored.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []:
            if entry.get("ip") or entry.get("hostname"):
                return Endpoint(entry.get("ip") or entry["hostname"], 443)
        return Endpoint(PENDING_HOST, 443)

    # -- credentials --------------------------------------------------------

    def make_credentials(self) -> None:
        made = self.load_credentials()
        apply_objects(self.host, [controlplane.ca_secret(self.settings, self.credentials)], self.status)
        reused = [part for part in ("CA", "serving certificate", "token", "password") if part not in made]
        if reused:
            self.status.line(f"   reused {', '.join(reused)}")
        if made:
            self.status.line(f"   made new {', '.join(made)}")

    def plan_credentials(self) -> list[Change]:
        made = self.load_credentials()
        changes = plan_objects(self.host, [controlplane.ca_secret(self.settings, self.credentials)])
        if made:
            changes.append(Change("write", "credentials", self.host.context, "new " + ", ".join(made)))
        return changes

    def load_credentials(self) -> list[str]:
        assert self.endpoint is not None
        settings = self.settings
        ca_secret = self.host.get("v1", "Secret", controlplane.ca_secret_name(settings), settings.namespace)
        secret = self.host.get("v1", "Secret", controlplane.apiserver_secret_name(settings), settings.namespace)
        sans = server_sans(self.endpoint.host, settings.apiserver_name, settings.namespace)
        layout = KUBEFED_LAYOUT if settings.use_kubefed else DIRECT_LAYOUT
        self.credentials, made = ensure(ca_secret, secret, layout, sans, settings.apiserver_name, None if settings.use_kubefed else "admin")
        return made

    # -- storage and control plane ------------------------------------------

    def claim_storage(self) -> None:
        apply_objects(self.host, controlplane.storage(self.settings), self.status)

    def plan_storage(self) -> list[Change]:
        return plan_objects(self.host, controlplane.storage(self.settings))

    def control_plane_objects(self) -> list[dict]:
        assert self.endpoint is not None and self.credentials is not None
        return controlplane.control_plane(self.settings, self.credentials, self.endpoint, self.dns_provider_config)

    def deploy(self) -> None:
        apply_objects(self.host, self.control_plane_objects(), self.status)

    def plan_control_plane(self) -> list[Change]:
        return plan_objects(self.host, self.control_plane_objects())

    # -- kubeconfig ---------------------------------------------------------

    def write_kubeconfig(self) -> None:
        assert self.endpoint is not None and self.credentials is not None
        cluster, users, context = controlplane.user_kubeconfig_entries(self.settings, self.credentials, self.endpoint)
        write_entries(self.settings.kubeconfig_path, cluster, users, context)
        self.status.line(f"Wrote config for {self.settings.kube_context} to {self.settings.kubeconfig_path}")

    def plan_kubeconfig(self) -> list[Change]:
        assert self.endpoint is not None and self.credentials is not None
        cluster, users, context = controlplane.user_kubeconfig_entries(self.settings, self.credentials, self.endpoint)
        config = self.settings.kubeconfig
        same = (
            config.entries("clusters").get(cluster["name"]) == cluster
            and all(config.entries("users").get(user["name"]) == user for user in users)
            and config.entries("contexts").get(context["name"]) == context
        )
        return [Change("unchanged" if same else "write", f"context {context['name']} in {self.settings.kubeconfig_path}")]

    # -- wait ---------------------------------------------------------------

    def wait(self) -> None:
        settings = self.settings
        deadline = time.monotonic() + settings.wait_seconds
        waits.pod_running(self.host, settings.namespace, "federation-apiserver", settings.wait_seconds, self.status)
        waits.pod_running(self.host, settings.namespace, "federation-controller-manager", max(1.0, deadline - time.monotonic()), self.status)
        waits.federation_api(self.federation_api(), max(1.0, deadline - time.monotonic()), self.status)

    def plan_wait(self) -> list[Change]:
        return [Change("wait", "federation-apiserver and federation-controller-manager pods running", self.host.context), Change("wait", "federation API answering", self.settings.kube_context)]

    def federation_api(self) -> Cluster:
        # Reload: the context was written by this run.
        return Cluster(Kubeconfig.load(self.settings.kubeconfig.paths), self.settings.kube_context)

    # -- register -----------------------------------------------------------

    def federation(self, api: Cluster):
        from federation.core.registration import Federation

        settings = self.settings
        return Federation(self.host, api, settings.namespace, settings.federation_name, settings.dns_zone, settings.dns_provider, nameservers=self.nameservers)

    def register(self) -> None:
        from federation.core.registration import join_all

        federation = self.federation(self.federation_api())
        for member in self.members:
            if self.settings.use_kubefed:
                self.status.line(f"Joining cluster with name '{member.context}' to federation with name '{self.settings.federation_name}'")
            if member.name in self.settings.member_files:
                self.status.line(f"Creating secret with name: {member.name}")
        # kubefed join (1.7+) gave each member a ServiceAccount; the direct manifests stored the member's kubeconfig.
        form = "serviceaccount" if self.settings.use_kubefed else "kubeconfig"
        join_all(federation, self.members, self.status, credentials=form, timeout=self.settings.wait_seconds)

    def plan_register(self) -> list[Change]:
        registered = self.registered_names()
        changes = []
        for member in self.members:
            action = "unchanged" if member.name in registered else "create"
            changes.append(Change(action, f'Cluster "{member.name}"', self.settings.kube_context, f"from {member.context}"))
        return changes

    def registered_names(self) -> set[str]:
        """Return the Clusters already registered, or none when the federation API is not up yet."""
        try:
            api = self.federation_api()
            return {item["metadata"]["name"] for item in api.list("federation/v1beta1", "Cluster")}
        except FederationError:
            return set()


def federation_name_conflict(host: Cluster, settings: UpSettings) -> str | None:
    """Return the federation that owns the namespace when it is not this one."""
    try:
        namespace = host.get("v1", "Namespace", settings.namespace)
    except ApiError:
        return None
    owner = ((namespace or {}).get("metadata", {}).get("labels") or {}).get("federation.k8s.io/federation-name")
    return owner if owner and owner != settings.federation_name else None
