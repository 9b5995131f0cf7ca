"""Registering a member cluster with a federation, and undoing a failed attempt."""

from __future__ import annotations

import base64
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from federation.core.apply import OWNER_LABEL, plan_apply
from federation.core.errors import ExitCode, FederationError, InvalidInput, PreflightFailed, WaitTimeout
from federation.core.kube import ApiError, Cluster
from federation.core.registration import credentials as creds
from federation.core.registration import member_dns
from federation.core.registration.endpoint import Inspector, provider_of, reachable_server
from federation.core.registration.model import Federation, Member, normalised_server
from federation.core.registration.rollback import Rollback
from federation.core.resources import describe, resource_for
from federation.core.runner import Change
from federation.core.status import Status
from federation.core.validation import dns1123_subdomain

log = logging.getLogger(__name__)

TOKEN_WAIT = 30.0  # seconds for the token controller to fill a ServiceAccount token Secret
CREATED_FOR_ANNOTATION = "federation.k8s.io/created-for-cluster"

# Exit code of join_all when its joins failed in different ways, first match wins. A failure
# after the first write outranks a timeout, which outranks a check that stopped before any write.
FAILURE_PRIORITY = (ExitCode.FAILED, ExitCode.TIMEOUT, ExitCode.PREFLIGHT, ExitCode.INVALID_INPUT)


@dataclass
class Preflight:
    """Facts a join collects before its first write."""

    member_cluster: Cluster
    server: str
    secret_name: str
    existing_cluster: dict | None
    dns: member_dns.DnsPlan


def check_reachable(cluster: Cluster, what: str) -> None:
    """Raise ``Unreachable`` (with the server address) unless ``cluster`` responds to ``GET /version``."""
    try:
        cluster.request("GET", "/version", what=f"reading the version of {what}")
    except ApiError as error:
        # Any HTTP response proves the address works, but 401 and 403 mean the credentials are wrong.
        if error.status in (401, 403):
            raise PreflightFailed(
                f"{what} at {cluster.server} rejected the credentials of context {cluster.context!r}: {error.status} {error.reason}",
                hint=f"refresh the credentials of context {cluster.context!r} (kubectl --context={cluster.context} get --raw /version)",
            ) from None


def check_not_federation_api(federation: Federation, member: Member) -> None:
    """Raise ``InvalidInput`` when ``member`` is the federation API server, by context name or server address."""
    api = federation.api
    same_context = member.context == api.context
    same_server = bool(member.server and api.server) and normalised_server(member.server) == normalised_server(api.server)
    if not (same_context or same_server):
        return
    reason = "is the federation API server's context" if same_context else f"points at the federation API server {api.server} (context {api.context!r})"
    raise InvalidInput(
        f"member context {member.context!r} {reason}, which cannot be a member of its own federation",
        hint=f"leave context {member.context!r} out of the members (FEDERATION_CLUSTERS or --cluster-context) and join the member clusters' contexts",
    )


def preflight(federation: Federation, member: Member, secret_name: str, inspect: Inspector | None) -> Preflight:
    """Check names and reachability and compute the DNS edit, changing nothing."""
    dns1123_subdomain("CLUSTER_NAME", member.name)
    dns1123_subdomain("--secret-name", secret_name)
    check_not_federation_api(federation, member)

    member_cluster = member.cluster()
    check_reachable(member_cluster, f"member cluster {member.name!r}")
    if federation.host.get("v1", "Namespace", federation.namespace) is None:
        raise PreflightFailed(
            f"namespace {federation.namespace!r} does not exist in the host context {federation.host.context!r}",
            hint="deploy the federation control plane first, or pass the right --federation-system-namespace",
        )
    existing = federation.api.get("federation/v1beta1", "Cluster", member.name)
    server = reachable_server(member, provider_of(federation.host), inspect)

    if existing is not None:
        registered = [item.get("serverAddress") for item in existing.get("spec", {}).get("serverAddressByClientCIDRs") or []]
        if server not in registered:
            raise PreflightFailed(
                f"cluster {member.name!r} is already registered in the federation with server {', '.join(filter(None, registered)) or '(none)'}, not {server}",
                hint=f"unjoin it first (kubefed unjoin {member.name}), or join this cluster under another name",
            )

    account = creds.service_account_name(member.name, federation.host.context)
    found = member_cluster.get("v1", "ServiceAccount", account, federation.namespace)
    if found is not None and ((found["metadata"].get("labels") or {}).get(OWNER_LABEL) != federation.name):
        raise PreflightFailed(
            f"ServiceAccount {federation.namespace}/{account} already exists in member {member.name!r} and does not belong to federation {federation.name!r}",
            hint="delete it from the member, or join under another cluster name",
        )

    plan = member_dns.plan_join(member_cluster, federation)
    return Preflight(member_cluster, server, secret_name, existing, plan)


def join(
    federation: Federation,
    member: Member,
    status: Status,
    *,
    secret_name: str | None = None,
    credentials: str = "kubeconfig",
    cluster_role_rules: str = "all",
    timeout: float = 120,
    dry_run: bool = False,
    inspect: Inspector | None = None,
) -> list[Change]:
    """Register ``member`` with ``federation`` and wire the federation's zone into its DNS.

    Stores the member's credentials in a Secret in the host, creates the
    Cluster in the federation API, waits up to ``timeout`` seconds for it to
    become Ready (0 skips the wait), then edits the member's DNS. Joining
    again converges. When any step fails, what this run created is deleted
    and what it changed is put back, so the clusters look as before.
    With ``dry_run`` nothing is written and the planned changes are returned.
    """
    if credentials not in creds.CREDENTIALS:
        raise InvalidInput.variable("--credentials", credentials, "is not a credentials form", f"pass one of {', '.join(creds.CREDENTIALS)}")
    secret_name = secret_name or member.name
    service_objects = creds.service_account_objects(federation, member, cluster_role_rules) if credentials == "serviceaccount" else []

    with status.step(f"checking cluster {member.name!r} (context {member.context!r})"):
        checked = preflight(federation, member, secret_name, inspect)

    if dry_run:
        return _plan(federation, member, checked, service_objects, timeout)

    rollback = Rollback(status)
    changes: list[Change] = []
    try:
        with status.step(f"storing credentials for cluster {member.name!r}"):
            kubeconfig = _credentials(federation, member, checked, service_objects, rollback, changes, status)
            secret = creds.host_secret(federation, member, secret_name, kubeconfig)
            changes.append(_apply(federation.host, secret, rollback, status))

        account = creds.service_account_name(member.name, federation.host.context) if service_objects else ""
        role = creds.cluster_role_name(federation.name, member.name, federation.host.context) if service_objects else ""
        cluster = creds.cluster_object(federation, member, checked.server, secret_name, account, role)
        with status.step(f"registering cluster {member.name!r} in the federation"):
            changes.append(_apply(federation.api, cluster, rollback, status))

        if timeout > 0:
            with status.step(f"waiting up to {timeout:.0f}s for cluster {member.name!r} to be Ready"):
                wait_ready(federation, member.name, checked.server, secret_name, timeout, status)

        with status.step(f"configuring DNS in cluster {member.name!r} ({checked.dns.form})"):
            for line in checked.dns.apply(checked.member_cluster, rollback):
                status.line(f"   {line}")
            if checked.dns.form == "none":
                status.warn(checked.dns.note)
            changes.append(checked.dns.change(member.context))
    except BaseException as error:
        failed = rollback.run()
        if failed and isinstance(error, FederationError):
            error.message += "; the rollback could not undo: " + "; ".join(failed)
        raise
    return changes


def _credentials(federation: Federation, member: Member, checked: Preflight, service_objects: list[dict], rollback: Rollback, changes: list[Change], status: Status) -> dict:
    if not service_objects:
        return creds.secret_kubeconfig(member, checked.server)

    member_cluster = checked.member_cluster
    if member_cluster.get("v1", "Namespace", federation.namespace) is None:
        namespace = {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": creds.member_metadata(federation, member, federation.namespace),
        }
        namespace["metadata"]["annotations"][CREATED_FOR_ANNOTATION] = member.name
        changes.append(_apply(member_cluster, namespace, rollback, status))
    for obj in service_objects:
        changes.append(_apply(member_cluster, obj, rollback, status))

    token_secret = service_objects[1]["metadata"]["name"]
    token, ca_data = _wait_token(member_cluster, federation.namespace, token_secret)
    return creds.token_kubeconfig(member, checked.server, token, ca_data)


def _wait_token(cluster: Cluster, namespace: str, name: str) -> tuple[str, str]:
    def check(objects: dict[str, dict]) -> tuple[bool, str]:
        data = (objects.get(name) or {}).get("data") or {}
        if data.get("token"):
            return True, "token issued"
        return False, f"Secret {namespace}/{name} has no token yet"

    try:
        found = cluster.wait(resource_for("v1", "Secret"), namespace, check, time.monotonic() + TOKEN_WAIT, field_selector=f"metadata.name={name}")
    except WaitTimeout as error:
        raise WaitTimeout(
            f"the token controller of context {cluster.context!r} did not fill Secret {namespace}/{name} within {TOKEN_WAIT:.0f}s ({error.message})",
            hint="check that the member's kube-controller-manager runs with a service account signing key",
        ) from None
    data = found[name]["data"]
    return base64.b64decode(data["token"]).decode(), data.get("ca.crt", "")


def _apply(cluster: Cluster, obj: dict, rollback: Rollback, status: Status) -> Change:
    metadata = obj["metadata"]
    existed = cluster.get(obj["apiVersion"], obj["kind"], metadata["name"], metadata.get("namespace")) is not None
    outcome, _ = cluster.apply(obj)
    if not existed:
        rollback.created(cluster, obj)
    status.line(f"   {outcome} {describe(obj)} in context {cluster.context!r}")
    return Change("create" if not existed else "update", describe(obj), cluster.context)


def wait_ready(federation: Federation, name: str, server: str, secret_name: str, timeout: float, status: Status) -> dict:
    """Watch the Cluster until its Ready condition is True; raise ``WaitTimeout`` with its reason otherwise."""

    def check(objects: dict[str, dict]) -> tuple[bool, str]:
        cluster = objects.get(name)
        if cluster is None:
            return False, f"cluster {name!r} not found"
        for condition in (cluster.get("status") or {}).get("conditions") or []:
            if condition.get("type") == "Ready":
                if condition.get("status") == "True":
                    return True, "Ready"
                detail = ": ".join(part for part in (condition.get("reason"), condition.get("message")) if part)
                return False, f"Ready={condition.get('status')}" + (f" ({detail})" if detail else "")
        return False, "no Ready condition yet (is the federation controller manager running?)"

    def progress(state: str) -> None:
        status.line(f"   cluster {name!r}: {state}")

    try:
        found = federation.api.wait(
            resource_for("federation/v1beta1", "Cluster"),
            None,
            check,
            time.monotonic() + timeout,
            field_selector=f"metadata.name={name}",
            on_change=progress,
        )
    except WaitTimeout as error:
        state = error.message.removeprefix("timed out: ")
        raise WaitTimeout(
            f"cluster {name!r} was not Ready after {timeout:.0f}s: {state}",
            hint=f"check that pods in the host cluster can reach {server} with the credentials in Secret {federation.namespace}/{secret_name} "
            f"(kubectl --context={federation.api.context} get cluster {name} -o yaml), or raise --timeout",
        ) from None
    return found[name]


def _plan(federation: Federation, member: Member, checked: Preflight, service_objects: list[dict], timeout: float) -> list[Change]:
    changes: list[Change] = []
    member_cluster = checked.member_cluster
    if service_objects:
        if member_cluster.get("v1", "Namespace", federation.namespace) is None:
            changes.append(Change("create", f'Namespace "{federation.namespace}"', member_cluster.context))
            changes.extend(Change("create", describe(obj), member_cluster.context) for obj in service_objects)
        else:
            changes.extend(_plan_object(member_cluster, obj) for obj in service_objects)

    # The dry run cannot know a ServiceAccount token yet, so the Secret is planned with the kubeconfig form.
    secret = creds.host_secret(federation, member, checked.secret_name, creds.secret_kubeconfig(member, checked.server) if not service_objects else {})
    secret_change = _plan_object(federation.host, secret)
    if service_objects and secret_change.action == "update":
        secret_change.note = "token from the ServiceAccount"
    changes.append(secret_change)

    account = creds.service_account_name(member.name, federation.host.context) if service_objects else ""
    role = creds.cluster_role_name(federation.name, member.name, federation.host.context) if service_objects else ""
    changes.append(_plan_object(federation.api, creds.cluster_object(federation, member, checked.server, checked.secret_name, account, role)))
    if timeout > 0:
        changes.append(Change("wait", f'Cluster "{member.name}" Ready', federation.api.context, f"up to {timeout:.0f}s"))
    changes.append(checked.dns.change(member.context))
    return changes


def _plan_object(cluster: Cluster, obj: dict) -> Change:
    try:
        change = plan_apply(cluster, obj)
    except ApiError as error:
        # A server without dry-run support still returns whether the object exists.
        log.debug("dry-run apply of %s failed: %s", describe(obj), error.message)
        metadata = obj["metadata"]
        exists = cluster.get(obj["apiVersion"], obj["kind"], metadata["name"], metadata.get("namespace")) is not None
        return Change("update" if exists else "create", describe(obj), cluster.context)
    return change


def join_all(federation: Federation, members: list[Member], status: Status, *, concurrency: int = 8, **kwargs) -> dict[str, list[Change]]:
    """Join ``members`` with at most ``concurrency`` joins at a time; raise listing every failure.

    Each join rolls back on its own, so the members that joined stay joined
    when another fails. The raised error has the exit code of the failures
    when they share one, else the first of ``FAILURE_PRIORITY`` among them.
    """
    names = [member.name for member in members]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise InvalidInput(f"several members would get the cluster name {', '.join(duplicates)}", hint="give each member a distinct name")
    if not members:
        return {}

    # Build the shared clients before the threads start, so they are not built twice.
    _ = federation.host.client, federation.api.client
    results: dict[str, list[Change]] = {}
    failures: list[str] = []
    hints: list[str] = []
    codes: set[ExitCode] = set()
    with ThreadPoolExecutor(max_workers=max(1, min(concurrency, len(members))), thread_name_prefix="join") as pool:
        futures = {pool.submit(join, federation, member, status, **kwargs): member for member in members}
        for future, member in futures.items():
            try:
                results[member.name] = future.result()
            except FederationError as error:
                failures.append(f"cluster {member.name!r}: {error.message}")
                if error.hint:
                    hints.append(f"cluster {member.name!r}: {error.hint}")
                codes.add(ExitCode(error.exit_code))
    if failures:
        hint = "; ".join([*hints, "then run the join again (joined members stay joined)"])
        error = FederationError(f"{len(failures)} of {len(members)} joins failed: " + "; ".join(failures), hint=hint)
        error.exit_code = aggregate_exit_code(codes)
        raise error
    return results


def aggregate_exit_code(codes: set[ExitCode]) -> ExitCode:
    """Return the exit code of several failed joins: the shared one, else the first of ``FAILURE_PRIORITY``."""
    if len(codes) == 1:
        return next(iter(codes))
    for code in FAILURE_PRIORITY:
        if code in codes:
            return code
    return ExitCode.FAILED
