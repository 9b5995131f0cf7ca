"""Removing a member cluster from a federation: the reverse of join."""

from __future__ import annotations

import base64
import logging

import yaml

from federation.core.apply import APP_LABEL, OWNER_LABEL
from federation.core.errors import FederationError, PreflightFailed
from federation.core.kube import Cluster, Unreachable
from federation.core.registration import credentials as creds
from federation.core.registration import member_dns
from federation.core.registration.join import CREATED_FOR_ANNOTATION, check_reachable
from federation.core.registration.model import Federation, Member
from federation.core.runner import Change
from federation.core.status import Status

log = logging.getLogger(__name__)


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

    Deletes the Cluster, the host Secret, the member's ServiceAccount, token
    Secret, ClusterRole and binding (and the namespace when join created it),
    and this federation's DNS entry. A part that is already gone is a note.
    Without ``member`` the member is reached through the credentials in the
    host Secret. With ``force`` an unreachable member does not stop the
    unjoin, and the warning lists what was left in it.
    ``timeout`` is kept for symmetry with join; nothing here waits.
    """
    registered = federation.api.get("federation/v1beta1", "Cluster", member_name)
    annotations = ((registered or {}).get("metadata") or {}).get("annotations") or {}
    secret_name = (((registered or {}).get("spec") or {}).get("secretRef") or {}).get("name") or member_name
    secret = federation.host.get("v1", "Secret", secret_name, federation.namespace)
    account = annotations.get(creds.SERVICE_ACCOUNT_ANNOTATION) or creds.service_account_name(member_name, federation.host.context)
    role = annotations.get(creds.CLUSTER_ROLE_ANNOTATION) or creds.cluster_role_name(federation.name, member_name, federation.host.context)

    member = member or _member_from_secret(member_name, secret)
    member_cluster, unreachable = _reach(member, member_name, force)
    dns_plan = member_dns.plan_unjoin(member_cluster, federation) if member_cluster is not None else None
    member_objects = _member_objects(federation, member_cluster, member_name, account, role) if member_cluster is not None else []

    changes: list[Change] = []
    changes.append(_change_delete(registered, f'Cluster "{member_name}"', federation.api.context))
    changes.append(_change_delete(secret, f'Secret "{federation.namespace}/{secret_name}"', federation.host.context))
    for api_version, kind, name, namespace, _ in member_objects:
        target = f'{kind} "{namespace}/{name}"' if namespace else f'{kind} "{name}"'
        changes.append(Change("delete", target, member.context if member else ""))
    if dns_plan is not None and member is not None:
        changes.append(dns_plan.change(member.context))
    if dry_run:
        return changes

    with status.step(f"removing cluster {member_name!r} from the federation"):
        _delete_or_note(federation.api, "federation/v1beta1", "Cluster", member_name, None, status)
        _delete_or_note(federation.host, "v1", "Secret", secret_name, federation.namespace, status)

    if member_cluster is not None:
        with status.step(f"cleaning up cluster {member_name!r}"):
            for api_version, kind, name, namespace, _ in member_objects:
                _delete_or_note(member_cluster, api_version, kind, name, namespace, status)
            _delete_namespace_if_ours(federation, member_cluster, member_name, status)
            if dns_plan is not None:
                for line in dns_plan.apply(member_cluster, None):
                    status.line(f"   {line}")
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
        raise PreflightFailed(error.message, hint="make the member reachable, or pass --force to unjoin without cleaning the member") from None
    return cluster, ""


def _member_objects(federation: Federation, cluster: Cluster, member_name: str, account: str, role: str) -> list[tuple[str, str, str, str | None, dict]]:
    """Return the member objects join created for this federation that still exist, in deletion order."""
    wanted = [
        ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding", role, None),
        ("rbac.authorization.k8s.io/v1", "ClusterRole", role, None),
        ("v1", "Secret", creds.token_secret_name(account), federation.namespace),
        ("v1", "ServiceAccount", account, federation.namespace),
    ]
    found = []
    for api_version, kind, name, namespace in wanted:
        obj = cluster.get(api_version, kind, name, namespace)
        # Only objects labelled for this federation: a same-named object someone else made stays.
        if obj is not None and ((obj.get("metadata") or {}).get("labels") or {}).get(OWNER_LABEL) == federation.name:
            found.append((api_version, kind, name, namespace, obj))
    return found


def _delete_or_note(cluster: Cluster, api_version: str, kind: str, name: str, namespace: str | None, status: Status) -> None:
    target = f'{kind} "{namespace}/{name}"' if namespace else f'{kind} "{name}"'
    if cluster.delete(api_version, kind, name, namespace):
        status.line(f"   deleted {target} in context {cluster.context!r}")
    else:
        status.line(f"   note: {target} was already gone in context {cluster.context!r}")


def _delete_namespace_if_ours(federation: Federation, cluster: Cluster, member_name: str, status: Status) -> None:
    """Delete the member's federation namespace only when this member's join created it and nothing else of ours is left."""
    namespace = cluster.get("v1", "Namespace", federation.namespace)
    if namespace is None:
        return
    annotations = (namespace.get("metadata") or {}).get("annotations") or {}
    if annotations.get(CREATED_FOR_ANNOTATION) != member_name:
        return
    selector = ",".join(f"{key}={value}" for key, value in APP_LABEL.items())
    others = cluster.list("v1", "ServiceAccount", federation.namespace, label_selector=selector)
    if others:
        names = ", ".join(item["metadata"]["name"] for item in others)
        status.line(f"   note: namespace {federation.namespace!r} kept because other federation ServiceAccounts use it: {names}")
        return
    try:
        _delete_or_note(cluster, "v1", "Namespace", federation.namespace, None, status)
    except FederationError as error:
        status.warn(f"namespace {federation.namespace!r} in context {cluster.context!r} could not be deleted: {error.message}")


def _change_delete(obj: dict | None, target: str, context: str) -> Change:
    if obj is None:
        return Change("absent", target, context, "already gone")
    return Change("delete", target, context)
