"""Removing a member cluster from a federation: the reverse of join."""

from __future__ import annotations

import base64
import logging
from collections.abc import Callable
from dataclasses import dataclass

import yaml

from federation.core.apply import APP_LABEL, OWNER_LABEL, ownership_labels
from federation.core.errors import FederationError, PreflightFailed
from federation.core.kube import ApiError, Cluster, Unreachable
from federation.core.registration import credentials as creds
from federation.core.registration import member_dns
from federation.core.registration.join import CREATED_FOR_ANNOTATION, check_reachable
from federation.core.registration.model import Federation, Member, contexts_for_server, member_from_context
from federation.core.runner import Change
from federation.core.status import Status

log = logging.getLogger(__name__)

SERVICE_ACCOUNT_TOKEN_TYPE = "kubernetes.io/service-account-token"
# Deletion order of the member objects: the binding before the role, the ServiceAccount's token last.
_DELETION_ORDER = ("ClusterRoleBinding", "ClusterRole", "ServiceAccount", "Secret")


def unjoin(
    federation: Federation,
    member_name: str,
    member: Member | None,
    status: Status,
    *,
    force: bool = False,
    timeout: float = 120,
    dry_run: bool = False,
) -> list[Change]:
    """Remove cluster ``member_name`` from ``federation`` and undo what join did in the member.

    Deletes the Cluster and the host Secret, then in the member this
    federation's DNS entry, the ClusterRoleBinding, the ClusterRole, the
    ServiceAccount and its token Secret (or the namespace holding both, when
    join created it). The token goes last because, without ``member``, it can
    be the credential in use. A part that is already gone is a note. Member
    objects are found by name and by their ownership labels, so a re-run
    after a partial unjoin still finds them.

    Without ``member`` the member is reached through the kubeconfig context
    whose server is the registered address, else through the credentials in
    the host Secret. With ``force`` an unreachable member does not stop the
    unjoin, and the warning lists what was left in it. When the member
    rejects a cleanup request (401 or 403), a warning lists the kubectl
    commands that finish the cleanup and ``FederationError`` (exit 1) is
    raised. ``timeout`` is kept for symmetry with join; nothing here waits.
    """
    registered = federation.api.get("federation/v1beta1", "Cluster", member_name)
    annotations = ((registered or {}).get("metadata") or {}).get("annotations") or {}
    secret_name = (((registered or {}).get("spec") or {}).get("secretRef") or {}).get("name") or member_name
    secret = federation.host.get("v1", "Secret", secret_name, federation.namespace)
    account = annotations.get(creds.SERVICE_ACCOUNT_ANNOTATION) or creds.service_account_name(member_name, federation.host.context)
    role = annotations.get(creds.CLUSTER_ROLE_ANNOTATION) or creds.cluster_role_name(federation.name, member_name, federation.host.context)

    stored = _member_from_secret(member_name, secret)
    if member is None:
        member = _member_by_server(federation, member_name, registered, stored, status)
    member = member or stored
    member_cluster, unreachable = _reach(member, member_name, force)
    dns_plan = member_dns.plan_unjoin(member_cluster, federation) if member_cluster is not None else None
    member_objects = _member_objects(federation, member_cluster, member_name, account, role) if member_cluster is not None else []
    namespace = _namespace_to_delete(federation, member_cluster, member_name, member_objects, status) if member_cluster is not None else None

    changes: list[Change] = []
    changes.append(_change_delete(registered, f'Cluster "{member_name}"', federation.api.context))
    changes.append(_change_delete(secret, f'Secret "{federation.namespace}/{secret_name}"', federation.host.context))
    if member is not None:
        if dns_plan is not None:
            changes.append(dns_plan.change(member.context))
        changes.extend(Change("delete", item.target, member.context) for item in member_objects)
        if namespace is not None:
            changes.append(Change("delete", f'Namespace "{namespace}"', member.context))
    if dry_run:
        return changes

    with status.step(f"removing cluster {member_name!r} from the federation"):
        _delete_or_note(federation.api, "federation/v1beta1", "Cluster", member_name, None, status)
        _delete_or_note(federation.host, "v1", "Secret", secret_name, federation.namespace, status)

    if member_cluster is not None:
        steps = _cleanup_steps(member_cluster, dns_plan, member_objects, namespace, status)
        with status.step(f"cleaning up cluster {member_name!r}"):
            rejected = _run_cleanup(steps)
        if rejected is not None:
            error, remaining = rejected
            _report_rejected(member_name, member_cluster, member is stored, error, remaining, status)
    else:
        status.warn(
            f"cluster {member_name!r} could not be reached ({unreachable}), so these stay in it: "
            f"ServiceAccount {federation.namespace}/{account} and its token Secret, ClusterRole and ClusterRoleBinding {role!r}, "
            f"the DNS entry of federation {federation.name!r} (ConfigMap kube-system/coredns or kube-system/kube-dns), "
            f"and namespace {federation.namespace!r} if join created it"
        )
    status.line(f'Successfully removed cluster "{member_name}" from federation')
    return changes


def _member_from_secret(name: str, secret: dict | None) -> Member | None:
    """Rebuild a Member from the kubeconfig join stored, for when the member's context is gone."""
    encoded = ((secret or {}).get("data") or {}).get("kubeconfig")
    if not encoded:
        return None
    try:
        config = yaml.safe_load(base64.b64decode(encoded))
        context = config.get("current-context") or config["contexts"][0]["name"]
    except (ValueError, yaml.YAMLError, KeyError, IndexError, TypeError, AttributeError):
        log.warning("the kubeconfig in the Secret of cluster %s cannot be read", name)
        return None
    return Member(name, config, context)


def _member_by_server(federation: Federation, name: str, registered: dict | None, stored: Member | None, status: Status) -> Member | None:
    """Return a Member for the kubeconfig context whose server is the registered address of cluster ``name``, or None.

    The address comes from the Cluster, else from the host Secret. The
    federation API server's context is never picked.
    """
    addresses = [item.get("serverAddress", "") for item in ((registered or {}).get("spec") or {}).get("serverAddressByClientCIDRs") or []]
    if stored is not None:
        addresses.append(stored.server)
    config = federation.host.kubeconfig
    for server in filter(None, addresses):
        # NOTE: a kind member is registered with its container address, which no kubeconfig context uses.
        contexts = contexts_for_server(config, server, exclude=(federation.api.context,))
        if not contexts:
            continue
        others = f" (other contexts with this server: {', '.join(contexts[1:])})" if len(contexts) > 1 else ""
        status.line(f"using context {contexts[0]!r} for cluster {name!r}: its server is the registered address {server}{others}")
        return member_from_context(config, contexts[0], name)
    return None


def _reach(member: Member | None, name: str, force: bool) -> tuple[Cluster | None, str]:
    if member is None:
        reason = f"no kubeconfig context and no stored credentials for cluster {name!r}"
        if force:
            return None, reason
        raise PreflightFailed(f"cannot reach cluster {name!r}: {reason}", hint="pass --cluster-context=CONTEXT, or --force to unjoin without cleaning the member")
    cluster = member.cluster()
    try:
        check_reachable(cluster, f"member cluster {name!r}")
    except (Unreachable, PreflightFailed) as error:
        if force:
            return None, error.message
        raise PreflightFailed(
            error.message,
            hint="make the member reachable, pass --cluster-context=<a context with admin rights in the member>, or pass --force to unjoin without cleaning the member",
        ) from None
    return cluster, ""


@dataclass
class MemberObject:
    """An object that join created in the member, found before the unjoin deletes it."""

    api_version: str
    kind: str
    name: str
    namespace: str | None

    @property
    def target(self) -> str:
        return f'{self.kind} "{self.namespace}/{self.name}"' if self.namespace else f'{self.kind} "{self.name}"'

    def kubectl(self) -> str:
        namespace = f" -n {self.namespace}" if self.namespace else ""
        return f"kubectl --context={member_dns.ADMIN_PLACEHOLDER}{namespace} delete {self.kind.lower()} {self.name}"


@dataclass
class CleanupStep:
    """One member-side action of an unjoin, with the kubectl commands that do the same by hand."""

    run: Callable[[], None]
    commands: list[str]


def _member_objects(federation: Federation, cluster: Cluster, member_name: str, account: str, role: str) -> list[MemberObject]:
    """Return the member objects join created for this federation that still exist, in deletion order.

    Objects are looked up by the names join gives them, and by the ownership
    labels plus this cluster's name in their annotation. The labels still
    find them when the names cannot be derived: the Cluster with kubefed's
    name annotations is gone, or the host context now has another name.
    """
    wanted = [
        ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding", role, None),
        ("rbac.authorization.k8s.io/v1", "ClusterRole", role, None),
        ("v1", "ServiceAccount", account, federation.namespace),
        ("v1", "Secret", creds.token_secret_name(account), federation.namespace),
    ]
    found: list[MemberObject] = []
    for api_version, kind, name, namespace in wanted:
        obj = cluster.get(api_version, kind, name, namespace)
        # Only objects labelled for this federation: a same-named object someone else made stays.
        if obj is not None and ((obj.get("metadata") or {}).get("labels") or {}).get(OWNER_LABEL) == federation.name:
            found.append(MemberObject(api_version, kind, name, namespace))

    selector = ",".join(f"{key}={value}" for key, value in ownership_labels(federation.name).items())
    for api_version, kind, _, _ in wanted:
        try:
            listed = cluster.list(api_version, kind, None, label_selector=selector)
        except ApiError as error:
            log.debug("cannot list %s of context %s by label: %s", kind, cluster.context, error.message)
            continue
        for obj in listed:
            metadata = obj.get("metadata") or {}
            if (metadata.get("annotations") or {}).get(creds.CLUSTER_ANNOTATION) != member_name:
                continue
            # When the host is also a member, the host Secret carries the same labels and annotation.
            if kind == "Secret" and obj.get("type") != SERVICE_ACCOUNT_TOKEN_TYPE:
                continue
            item = MemberObject(api_version, kind, metadata["name"], metadata.get("namespace"))
            if item not in found:
                found.append(item)
    return sorted(found, key=lambda item: _DELETION_ORDER.index(item.kind))


def _namespace_to_delete(federation: Federation, cluster: Cluster, member_name: str, objects: list[MemberObject], status: Status) -> str | None:
    """Return the member's federation namespace when this member's join created it and no other federation ServiceAccount uses it."""
    namespace = cluster.get("v1", "Namespace", federation.namespace)
    if namespace is None:
        return None
    annotations = (namespace.get("metadata") or {}).get("annotations") or {}
    if annotations.get(CREATED_FOR_ANNOTATION) != member_name:
        return None
    ours = {item.name for item in objects if item.kind == "ServiceAccount" and item.namespace == federation.namespace}
    selector = ",".join(f"{key}={value}" for key, value in APP_LABEL.items())
    accounts = cluster.list("v1", "ServiceAccount", federation.namespace, label_selector=selector)
    others = [item["metadata"]["name"] for item in accounts if item["metadata"]["name"] not in ours]
    if others:
        status.line(f"   note: namespace {federation.namespace!r} is kept because other federation ServiceAccounts use it: {', '.join(others)}")
        return None
    return federation.namespace


def _cleanup_steps(cluster: Cluster, dns_plan: member_dns.DnsPlan | None, objects: list[MemberObject], namespace: str | None, status: Status) -> list[CleanupStep]:
    """Order the member-side actions: DNS, then RBAC, then the ServiceAccount and its token Secret.

    When the namespace goes, it takes the ServiceAccount and its token Secret
    with it, so deleting it is the last request made with that token.
    """
    steps: list[CleanupStep] = []
    if dns_plan is not None and dns_plan.writes:

        def edit_dns() -> None:
            for line in dns_plan.apply(cluster, None):
                status.line(f"   {line}")

        steps.append(CleanupStep(edit_dns, dns_plan.manual))

    inside = [item for item in objects if namespace is not None and item.namespace == namespace]
    for item in objects:
        if item not in inside:
            steps.append(CleanupStep(lambda item=item: _delete_or_note(cluster, item.api_version, item.kind, item.name, item.namespace, status), [item.kubectl()]))

    if namespace is not None:

        def delete_namespace() -> None:
            try:
                _delete_or_note(cluster, "v1", "Namespace", namespace, None, status)
            except ApiError as error:
                if error.status in (401, 403):
                    raise
                status.warn(f"namespace {namespace!r} in context {cluster.context!r} could not be deleted: {error.message}")
                return
            if inside:
                status.line(f"   {', '.join(item.target for item in inside)} go with namespace {namespace!r}")

        steps.append(CleanupStep(delete_namespace, [f"kubectl --context={member_dns.ADMIN_PLACEHOLDER} delete namespace {namespace}"]))
    return steps


def _run_cleanup(steps: list[CleanupStep]) -> tuple[ApiError, list[CleanupStep]] | None:
    """Run ``steps`` in order; at the first that the member rejects (401 or 403), return the error and the steps not done."""
    for index, step in enumerate(steps):
        try:
            step.run()
        except ApiError as error:
            if error.status not in (401, 403):
                raise
            return error, steps[index:]
    return None


def _report_rejected(member_name: str, cluster: Cluster, stored_credentials: bool, error: ApiError, remaining: list[CleanupStep], status: Status) -> None:
    """Warn with the kubectl commands that finish the cleanup, then raise ``FederationError`` (exit 1)."""
    # On a cluster with RBAC, the stored ServiceAccount token loses its rights with its ClusterRoleBinding.
    source = f"the credentials stored in the host Secret (server {cluster.server})" if stored_credentials else f"context {cluster.context!r}"
    commands = [command for step in remaining for command in step.commands]
    status.warn(
        f"cluster {member_name!r} was removed from the federation, but the member rejected {source} with {error.status} {error.reason}. "
        f"These cleanup steps were not done; run them with a context that has admin rights in the member:\n"
        + "\n".join(f"   {command}" for command in commands)
    )
    raise FederationError(
        f"cluster {member_name!r} is only partly cleaned up: {len(commands)} kubectl commands are left",
        hint="run the unjoin again with --cluster-context=<a context with admin rights in the member>, or run the kubectl commands listed above",
    )


def _delete_or_note(cluster: Cluster, api_version: str, kind: str, name: str, namespace: str | None, status: Status) -> None:
    target = f'{kind} "{namespace}/{name}"' if namespace else f'{kind} "{name}"'
    if cluster.delete(api_version, kind, name, namespace):
        status.line(f"   deleted {target} in context {cluster.context!r}")
    else:
        status.line(f"   note: {target} was already gone in context {cluster.context!r}")


def _change_delete(obj: dict | None, target: str, context: str) -> Change:
    if obj is None:
        return Change("absent", target, context, "already gone")
    return Change("delete", target, context)
