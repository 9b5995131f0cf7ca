"""The steps of federation-down.sh: unregister the members, delete what up created, remove the kubeconfig entries.

Only objects labelled with this federation's name are deleted, plus the
namespace when it carries that label and is not a system namespace, so
nothing another tool or user made in the host cluster is touched (the
original deleted every PersistentVolume).
"""

from __future__ import annotations

import time

from federation.cluster.ownership import PROTECTED_NAMESPACES, federations_in_namespace, owns_namespace
from federation.cluster.settings import Common
from federation.core.apply import OWNER_LABEL, sort_objects
from federation.core.errors import FederationError, InvalidInput, WaitTimeout
from federation.core.kube import ApiError, Cluster, Unreachable
from federation.core.kubeconfig import Kubeconfig, remove_entries
from federation.core.resources import describe, resource_for
from federation.core.runner import Change, Step
from federation.core.status import Status

NAMESPACED_KINDS = [
    ("apps/v1", "Deployment"),
    ("v1", "Service"),
    ("v1", "PersistentVolumeClaim"),
    ("v1", "Secret"),
    ("v1", "ConfigMap"),
    ("v1", "ServiceAccount"),
    ("rbac.authorization.k8s.io/v1", "Role"),
    ("rbac.authorization.k8s.io/v1", "RoleBinding"),
]
CLUSTER_KINDS = [("rbac.authorization.k8s.io/v1", "ClusterRole"), ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding")]


class DownJob:
    """One federation-down.sh run."""

    def __init__(self, settings: Common, status: Status) -> None:
        self.settings = settings
        self.status = status
        self.host = Cluster(settings.kubeconfig, settings.host_context)
        self.selector = f"{OWNER_LABEL}={settings.federation_name}"
        self.left_behind: list[str] = []

    def steps(self) -> list[Step]:
        return [
            Step("preflight", f"check the host cluster (context {self.settings.host_context})", self.preflight, self.plan_preflight),
            Step("register", "unregister the member clusters", self.unregister, self.plan_unregister, enabled=self.has_federation_context()),
            Step("control-plane", f"delete the control plane from namespace {self.settings.namespace}", self.delete_control_plane, self.plan_control_plane),
            Step("kubeconfig", f"remove context {self.settings.kube_context} from the kubeconfig", self.remove_kubeconfig, self.plan_kubeconfig, enabled=self.has_federation_context()),
        ]

    def deployed(self) -> bool:
        """Return whether anything of this federation is left in the host cluster or the kubeconfig."""
        return self.has_federation_context() or self.owned_namespace() is not None or bool(self.owned_objects())

    def preflight(self) -> None:
        self.check_host()
        self.check_federation_name()

    def check_host(self) -> None:
        self.host.request("GET", "/version", what="reading the host cluster's version")

    def check_federation_name(self) -> None:
        """Raise ``InvalidInput`` when the host runs another federation in the namespace.

        The direct mechanism's default FEDERATION_KUBE_CONTEXT does not depend
        on the name, but member DNS is cleaned by FEDERATION_NAME. A wrong or
        missing FEDERATION_NAME would therefore unregister another federation's
        members and leave their DNS entries behind.
        """
        found = federations_in_namespace(self.host, self.settings.namespace)
        name = self.settings.federation_name
        if not found or name in found:
            return
        running = ", ".join(repr(other) for other in sorted(found))
        if len(found) == 1:
            found_text, fix = f"federation {running}", f"set FEDERATION_NAME={next(iter(found))}"
        else:
            found_text, fix = f"federations {running}", f"set FEDERATION_NAME to one of {running}"
        raise InvalidInput(
            f"the host cluster (context {self.host.context}) runs {found_text} in namespace {self.settings.namespace}, "
            f"not FEDERATION_NAME={name!r}, so federation-down.sh changed nothing",
            hint=f"{fix} to remove that federation, or set FEDERATION_NAMESPACE to the namespace of federation {name!r}",
        )

    def plan_preflight(self) -> list[Change]:
        self.preflight()
        return [Change("run", "host cluster checks", self.host.context, "passed")]

    # -- register -----------------------------------------------------------

    def has_federation_context(self) -> bool:
        return self.settings.kube_context in self.settings.kubeconfig.entries("contexts")

    def federation(self):
        from federation.core.registration import Federation

        api = Cluster(self.settings.kubeconfig, self.settings.kube_context)
        return Federation(self.host, api, self.settings.namespace, self.settings.federation_name, "", "")

    def registered_clusters(self, federation) -> list[str] | None:
        """Return the names of the registered Clusters, or None when the federation API cannot be reached."""
        try:
            return [item["metadata"]["name"] for item in federation.api.list("federation/v1beta1", "Cluster")]
        except (Unreachable, ApiError) as error:
            self.status.warn(f"cannot list the registered clusters through context {self.settings.kube_context}: {error.message}")
            return None

    def known_members(self) -> dict:
        """Return the members this run can reach by their own credentials, by Cluster name."""
        from federation.core.registration import member_from_context, member_from_file

        members = {}
        for name, path in self.settings.member_files.items():
            try:
                members[name] = member_from_file(path, name)
            except FederationError as error:
                self.status.warn(f"member kubeconfig {path} cannot be used: {error.message}")
        for context in self.settings.member_contexts:
            member = member_from_context(self.settings.kubeconfig, context)
            members[member.name] = member
        return members

    def unregister(self) -> None:
        from federation.core.registration import unjoin

        federation = self.federation()
        names = self.registered_clusters(federation)
        if names is None:
            self.left_behind.append("the member-side objects of every registered cluster (the federation API server did not answer)")
            return
        members = self.known_members()
        for name in names:
            self.status.line(f'Unjoining cluster "{name}" from federation "{self.settings.federation_name}"')
            # An unreachable member must not keep the control plane alive; unjoin warns with what stays in it.
            unjoin(federation, name, members.get(name), self.status, force=True, timeout=self.settings.wait_seconds)

    def plan_unregister(self) -> list[Change]:
        from federation.core.registration import unjoin

        federation = self.federation()
        names = self.registered_clusters(federation) or []
        members = self.known_members()
        changes: list[Change] = []
        for name in names:
            changes += unjoin(federation, name, members.get(name), self.status, force=True, dry_run=True)
        return changes

    # -- control plane ------------------------------------------------------

    def owned_namespace(self) -> dict | None:
        """Return the namespace when it carries this federation's label and is not a system namespace, else None."""
        namespace = self.host.get("v1", "Namespace", self.settings.namespace)
        return namespace if owns_namespace(namespace, self.settings.federation_name) else None

    def owned_objects(self) -> list[dict]:
        found: list[dict] = []
        if self.host.get("v1", "Namespace", self.settings.namespace) is not None:
            for api_version, kind in NAMESPACED_KINDS:
                found += self.host.list(api_version, kind, self.settings.namespace, label_selector=self.selector)
        for api_version, kind in CLUSTER_KINDS:
            found += self.host.list(api_version, kind, label_selector=self.selector)
        return sort_objects(found, reverse=True)

    def delete_control_plane(self) -> None:
        for obj in self.owned_objects():
            metadata = obj["metadata"]
            if self.host.delete(obj["apiVersion"], obj["kind"], metadata["name"], metadata.get("namespace")):
                self.status.line(f"   deleted {describe(obj)}")

        if self.owned_namespace() is None:
            if self.settings.namespace in PROTECTED_NAMESPACES:
                self.status.line(f"   kept namespace {self.settings.namespace} because it is a system namespace")
            elif self.host.get("v1", "Namespace", self.settings.namespace) is not None:
                self.status.line(f"   kept namespace {self.settings.namespace} because it does not carry the label {self.selector}")
            return
        self.host.delete("v1", "Namespace", self.settings.namespace)
        self.status.line(f'   deleting Namespace "{self.settings.namespace}"')
        self.wait_namespace_gone()

    def wait_namespace_gone(self) -> None:
        name = self.settings.namespace

        def check(objects: dict[str, dict]) -> tuple[bool, str]:
            current = objects.get(name)
            if current is None:
                return True, "gone"
            return False, f"phase {(current.get('status') or {}).get('phase', 'unknown')}"

        deadline = time.monotonic() + self.settings.wait_seconds
        try:
            self.host.wait(resource_for("v1", "Namespace"), None, check, deadline, field_selector=f"metadata.name={name}")
        except WaitTimeout:
            remaining = self.host.list("v1", "Pod", name)
            raise WaitTimeout(
                f"namespace {name} in context {self.host.context} was still terminating after {self.settings.wait_seconds:g}s"
                + (f"; pods left: {', '.join(pod['metadata']['name'] for pod in remaining)}" if remaining else ""),
                hint=f"kubectl --context={self.host.context} get namespace {name} -o yaml shows what blocks it (finalizers); run federation-down.sh again later",
            ) from None
        self.status.line(f'   deleted Namespace "{name}"')

    def plan_control_plane(self) -> list[Change]:
        changes = [Change("delete", describe(obj), self.host.context) for obj in self.owned_objects()]
        if self.owned_namespace() is not None:
            changes.append(Change("delete", f'Namespace "{self.settings.namespace}"', self.host.context))
        return changes

    # -- kubeconfig ---------------------------------------------------------

    def kubeconfig_names(self) -> tuple[str, list[str], str]:
        context = self.settings.kube_context
        return context, [context, self.settings.basic_auth_user], context

    def remove_kubeconfig(self) -> None:
        context, users, cluster = self.kubeconfig_names()
        config = Kubeconfig.load(self.settings.kubeconfig.paths)
        for path in remove_entries(config, context, users, cluster):
            self.status.line(f"   removed context {context}, cluster {cluster} and users {', '.join(users)} from {path}")

    def plan_kubeconfig(self) -> list[Change]:
        context, users, cluster = self.kubeconfig_names()
        return [Change("remove", f"context {context}, cluster {cluster}, users {', '.join(users)}", note=str(self.settings.kubeconfig_path))]
