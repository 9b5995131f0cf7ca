"""Wiring a federation's zone into the DNS server that runs in a member.

The form follows what runs in ``kube-system``: CoreDNS (ConfigMap
``coredns``), kube-dns reading ConfigMap ``kube-dns``, or an older kube-dns
reading only its ``--federations`` flag. Plans are computed before the first
write of a join, so a malformed Corefile or map rejects the join while
nothing has changed yet.
"""

from __future__ import annotations

import copy
import datetime
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from federation.core import dns
from federation.core.apply import OWNER_LABEL, ownership_labels
from federation.core.kube import ApiError, Cluster
from federation.core.registration.model import Federation
from federation.core.registration.rollback import Rollback
from federation.core.runner import Change

log = logging.getLogger(__name__)

SYSTEM_NAMESPACE = "kube-system"
ADMIN_PLACEHOLDER = "<admin>"  # printed in kubectl commands in place of a context with admin rights
RESTARTED_AT = "kubectl.kubernetes.io/restartedAt"
CONFLICT_RETRIES = 5


@dataclass
class DnsPlan:
    """The DNS edit of one join or unjoin, computed from the member's current objects."""

    form: str  # coredns, kube-dns, kube-dns-flag or none
    target: str  # the object edited, in progress-line form
    changed: bool = False
    note: str = ""
    writes: list[Callable[[Cluster, Rollback | None], str]] = field(default_factory=list)
    manual: list[str] = field(default_factory=list)  # unjoin only: the same edits as kubectl commands, for an admin to run

    def change(self, context: str) -> Change:
        if self.form == "none":
            return Change("unchanged", "DNS", context, self.note)
        return Change("update" if self.changed else "unchanged", self.target, context, self.note)

    def apply(self, cluster: Cluster, rollback: Rollback | None) -> list[str]:
        """Run the writes; return one progress line per write."""
        return [write(cluster, rollback) for write in self.writes]


def plan_join(cluster: Cluster, federation: Federation) -> DnsPlan:
    corefile_map = cluster.get("v1", "ConfigMap", "coredns", SYSTEM_NAMESPACE)
    if corefile_map is not None and "Corefile" in (corefile_map.get("data") or {}):
        return _plan_coredns_join(cluster, federation, corefile_map)

    kube_dns = cluster.get("apps/v1", "Deployment", "kube-dns", SYSTEM_NAMESPACE)
    if kube_dns is not None:
        return _plan_kube_dns(cluster, federation, kube_dns, joining=True)
    return DnsPlan("none", "DNS", note=f"neither CoreDNS (ConfigMap {SYSTEM_NAMESPACE}/coredns) nor a kube-dns Deployment runs in context {cluster.context!r}, so no DNS was configured")


def plan_unjoin(cluster: Cluster, federation: Federation) -> DnsPlan:
    corefile_map = cluster.get("v1", "ConfigMap", "coredns", SYSTEM_NAMESPACE)
    if corefile_map is not None and "Corefile" in (corefile_map.get("data") or {}):
        return _plan_coredns_unjoin(cluster, federation, corefile_map)

    kube_dns = cluster.get("apps/v1", "Deployment", "kube-dns", SYSTEM_NAMESPACE)
    if kube_dns is not None:
        return _plan_kube_dns(cluster, federation, kube_dns, joining=False)
    return DnsPlan("none", "DNS", note="no CoreDNS or kube-dns found, so there is no DNS entry to remove")


# -- CoreDNS ------------------------------------------------------------------


def backup_name(federation_name: str) -> str:
    return f"coredns-federation-backup-{federation_name}"


def _plan_coredns_join(cluster: Cluster, federation: Federation, corefile_map: dict) -> DnsPlan:
    original = corefile_map["data"]["Corefile"]
    updated = dns.add_corefile_block(original, federation.name, federation.dns_zone, federation.dns_provider, federation.nameservers)
    target = f'ConfigMap "{SYSTEM_NAMESPACE}/coredns"'
    plan = DnsPlan("coredns", target, changed=updated != original)
    if not plan.changed:
        plan.note = f"the Corefile already has the block of federation {federation.name!r}"
        return plan

    plan.note = f"adds the server block for {federation.dns_zone.rstrip('.')} and restarts CoreDNS"
    if not dns.has_corefile_block(original, federation.name):
        plan.writes.append(lambda member, rollback: _write_backup(member, federation, original, rollback))
    add = lambda corefile: dns.add_corefile_block(corefile, federation.name, federation.dns_zone, federation.dns_provider, federation.nameservers)  # noqa: E731
    remove = lambda corefile: dns.remove_corefile_block(corefile, federation.name)  # noqa: E731
    plan.writes.append(lambda member, rollback: _write_corefile(member, add, remove, rollback))
    plan.writes.append(lambda member, rollback: restart_deployment(member, "coredns", SYSTEM_NAMESPACE))
    return plan


def _plan_coredns_unjoin(cluster: Cluster, federation: Federation, corefile_map: dict) -> DnsPlan:
    current = corefile_map["data"]["Corefile"]
    restored = dns.remove_corefile_block(current, federation.name)
    backup = cluster.get("v1", "ConfigMap", backup_name(federation.name), SYSTEM_NAMESPACE)
    target = f'ConfigMap "{SYSTEM_NAMESPACE}/coredns"'
    plan = DnsPlan("coredns", target, changed=restored != current)

    if plan.changed:
        saved = ((backup or {}).get("data") or {}).get("Corefile")
        same = saved is None or saved == restored
        plan.note = "removes the block of federation %r and restarts CoreDNS%s" % (federation.name, "" if same else " (edits made after the join are kept)")
        remove = lambda corefile: dns.remove_corefile_block(corefile, federation.name)  # noqa: E731
        plan.writes.append(lambda member, rollback: _write_corefile(member, remove, None, rollback))
        plan.writes.append(lambda member, rollback: restart_deployment(member, "coredns", SYSTEM_NAMESPACE))
        plan.manual.append(
            f"kubectl --context={ADMIN_PLACEHOLDER} -n {SYSTEM_NAMESPACE} edit configmap coredns"
            f" (delete the lines from '{dns.begin_marker(federation.name)}' to '{dns.end_marker(federation.name)}')"
        )
        plan.manual.append(f"kubectl --context={ADMIN_PLACEHOLDER} -n {SYSTEM_NAMESPACE} rollout restart deployment coredns")
    else:
        plan.note = f"the Corefile has no block of federation {federation.name!r}"
    if backup is not None:
        plan.writes.append(lambda member, rollback: _delete(member, "ConfigMap", backup_name(federation.name), SYSTEM_NAMESPACE))
        plan.manual.append(f"kubectl --context={ADMIN_PLACEHOLDER} -n {SYSTEM_NAMESPACE} delete configmap {backup_name(federation.name)}")
    return plan


def _write_backup(cluster: Cluster, federation: Federation, original: str, rollback: Rollback | None) -> str:
    """Keep the Corefile as it was before this federation's first join, for restoring by hand."""
    backup = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": backup_name(federation.name), "namespace": SYSTEM_NAMESPACE, "labels": ownership_labels(federation.name)},
        "data": {"Corefile": original},
    }
    existing = cluster.get("v1", "ConfigMap", backup_name(federation.name), SYSTEM_NAMESPACE)
    outcome, _ = cluster.apply(backup)
    if rollback is not None and existing is None:
        rollback.created(cluster, backup)
    return f'{outcome} ConfigMap "{SYSTEM_NAMESPACE}/{backup_name(federation.name)}"'


def _write_corefile(cluster: Cluster, transform: Callable[[str], str], inverse: Callable[[str], str] | None, rollback: Rollback | None) -> str:
    """Apply ``transform`` to the Corefile as it is at write time, so an edit made since the plan is kept."""
    _edit_configmap(cluster, "coredns", lambda data: {**data, "Corefile": transform(data.get("Corefile", ""))})
    if rollback is not None and inverse is not None:

        def undo() -> None:
            _edit_configmap(cluster, "coredns", lambda data: {**data, "Corefile": inverse(data.get("Corefile", ""))})
            restart_deployment(cluster, "coredns", SYSTEM_NAMESPACE)

        rollback.restore(f'remove the block from ConfigMap "{SYSTEM_NAMESPACE}/coredns" of context {cluster.context!r}', undo)
    return f'configured ConfigMap "{SYSTEM_NAMESPACE}/coredns"'


# -- kube-dns -----------------------------------------------------------------


def _kube_dns_container(deployment: dict) -> dict | None:
    containers = deployment["spec"]["template"]["spec"].get("containers") or []
    for container in containers:
        if container.get("name") == "kubedns":
            return container
    for container in containers:
        image = container.get("image", "")
        if "kubedns" in image or "kube-dns" in image:
            return container
    return None


def _plan_kube_dns(cluster: Cluster, federation: Federation, deployment: dict, joining: bool) -> DnsPlan:
    container = _kube_dns_container(deployment)
    if container is None:
        return DnsPlan("none", "DNS", note=f"Deployment {SYSTEM_NAMESPACE}/kube-dns has no kubedns container, so no DNS was configured")

    entries = dns.federation_entries(federation.name, federation.dns_zone, federation.domain_map)
    if dns.kube_dns_reads_configmap(container.get("image", ""), container.get("args") or []):
        return _plan_kube_dns_configmap(cluster, federation, entries, joining)
    return _plan_kube_dns_flag(federation, deployment, container, entries, joining)


def _stub_domains(federation: Federation) -> dict[str, list[str]]:
    # kubefed pointed the zone at the CoreDNS provider's nameservers; public providers need none.
    if federation.dns_provider == "coredns" and federation.nameservers:
        return {federation.dns_zone.rstrip("."): list(federation.nameservers)}
    return {}


def _plan_kube_dns_configmap(cluster: Cluster, federation: Federation, entries: dict[str, str], joining: bool) -> DnsPlan:
    current = cluster.get("v1", "ConfigMap", "kube-dns", SYSTEM_NAMESPACE)
    target = f'ConfigMap "{SYSTEM_NAMESPACE}/kube-dns"'
    data = dict((current or {}).get("data") or {})
    stub = _stub_domains(federation)

    if joining:
        updated = dns.join_kube_dns_data(data, entries, stub)
        plan = DnsPlan("kube-dns", target, changed=current is None or updated != data)
        plan.note = "merges %s into federations" % dns.format_federations(entries)
        if current is None:
            plan.writes.append(lambda member, rollback: _create_kube_dns_configmap(member, federation, updated, rollback))
        elif plan.changed:
            plan.writes.append(lambda member, rollback: _write_kube_dns_data(member, data, updated, rollback))
        return plan

    if current is None:
        return DnsPlan("kube-dns", target, note="ConfigMap kube-dns does not exist")
    updated = dns.unjoin_kube_dns_data(data, list(entries), list(stub))
    plan = DnsPlan("kube-dns", target, changed=updated != data, note="removes %s from federations" % ",".join(entries))
    labels = (current.get("metadata") or {}).get("labels") or {}
    if not updated and labels.get(OWNER_LABEL) == federation.name:
        plan.changed = True
        plan.note = "deletes the ConfigMap the join created"
        plan.writes.append(lambda member, rollback: _delete(member, "ConfigMap", "kube-dns", SYSTEM_NAMESPACE))
        plan.manual.append(f"kubectl --context={ADMIN_PLACEHOLDER} -n {SYSTEM_NAMESPACE} delete configmap kube-dns")
    elif plan.changed:
        plan.writes.append(lambda member, rollback: _write_kube_dns_data(member, data, updated, rollback))
        plan.manual.append(f"kubectl --context={ADMIN_PLACEHOLDER} -n {SYSTEM_NAMESPACE} edit configmap kube-dns ({plan.note})")
    return plan


def _create_kube_dns_configmap(cluster: Cluster, federation: Federation, data: dict, rollback: Rollback | None) -> str:
    configmap = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": "kube-dns",
            "namespace": SYSTEM_NAMESPACE,
            "labels": ownership_labels(federation.name),
            "annotations": {"federation.alpha.kubernetes.io/federation-name": federation.name},
        },
        "data": data,
    }
    outcome, _ = cluster.apply(configmap)
    if rollback is not None and outcome == "created":
        rollback.created(cluster, configmap)
    return f'{outcome} ConfigMap "{SYSTEM_NAMESPACE}/kube-dns"'


def _write_kube_dns_data(cluster: Cluster, before: dict, after: dict, rollback: Rollback | None) -> str:
    _edit_configmap(cluster, "kube-dns", lambda data: _swap_keys(data, before, after))
    if rollback is not None:
        rollback.restore(
            f'restore ConfigMap "{SYSTEM_NAMESPACE}/kube-dns" of context {cluster.context!r}',
            lambda: _edit_configmap(cluster, "kube-dns", lambda data: _swap_keys(data, after, before)),
        )
    return f'configured ConfigMap "{SYSTEM_NAMESPACE}/kube-dns"'


def _swap_keys(data: dict, before: dict, after: dict) -> dict:
    """Apply the key changes from ``before`` to ``after`` onto ``data``, keeping keys others changed meanwhile."""
    result = dict(data)
    for key in set(before) | set(after):
        if before.get(key) == after.get(key):
            continue
        if key in after:
            result[key] = after[key]
        else:
            result.pop(key, None)
    return result


def _plan_kube_dns_flag(federation: Federation, deployment: dict, container: dict, entries: dict[str, str], joining: bool) -> DnsPlan:
    args = list(container.get("args") or [])
    updated = dns.join_federations_flag(args, entries) if joining else dns.unjoin_federations_flag(args, list(entries))
    target = f'Deployment "{SYSTEM_NAMESPACE}/kube-dns"'
    plan = DnsPlan("kube-dns-flag", target, changed=updated != args)
    if not plan.changed:
        plan.note = "the --federations flag needs no change"
        return plan
    plan.note = ("sets" if joining else "removes") + " %s in the --federations flag, which restarts kube-dns" % dns.format_federations(entries)
    name = container["name"]
    plan.writes.append(lambda member, rollback: _write_flag(member, name, args, updated, rollback))
    if not joining:
        plan.manual.append(f"kubectl --context={ADMIN_PLACEHOLDER} -n {SYSTEM_NAMESPACE} edit deployment kube-dns ({plan.note})")
    return plan


def _write_flag(cluster: Cluster, container_name: str, before: list[str], after: list[str], rollback: Rollback | None) -> str:
    def set_args(args: list[str]) -> None:
        # Changing the pod template rolls the kube-dns pods, so they start with the new flag.
        def edit(deployment: dict) -> None:
            for container in deployment["spec"]["template"]["spec"]["containers"]:
                if container["name"] == container_name:
                    container["args"] = args

        _edit_object(cluster, "apps/v1", "Deployment", "kube-dns", edit)

    set_args(after)
    if rollback is not None:
        rollback.restore(f'restore the kube-dns args in context {cluster.context!r}', lambda: set_args(before))
    return f'configured Deployment "{SYSTEM_NAMESPACE}/kube-dns"'


# -- object edits -------------------------------------------------------------


def restart_deployment(cluster: Cluster, name: str, namespace: str) -> str:
    """Roll a Deployment's pods as ``kubectl rollout restart`` does; a missing Deployment is a note."""
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")

    def edit(deployment: dict) -> None:
        template = deployment["spec"]["template"]
        template.setdefault("metadata", {}).setdefault("annotations", {})[RESTARTED_AT] = now

    if not _edit_object(cluster, "apps/v1", "Deployment", name, edit, namespace):
        return f'note: Deployment "{namespace}/{name}" not found, so nothing was restarted'
    return f'restarted Deployment "{namespace}/{name}"'


def _edit_configmap(cluster: Cluster, name: str, edit: Callable[[dict], dict]) -> None:
    def change(configmap: dict) -> None:
        configmap["data"] = edit(dict(configmap.get("data") or {}))

    _edit_object(cluster, "v1", "ConfigMap", name, change)


def _edit_object(cluster: Cluster, api_version: str, kind: str, name: str, edit: Callable[[dict], None], namespace: str = SYSTEM_NAMESPACE) -> bool:
    """Read, edit and replace an object others own, retrying when it changed in between (409).

    A replace keeps every field other managers set, and the resourceVersion
    check means a concurrent edit is never overwritten. Returns False when
    the object does not exist.
    """
    for attempt in range(CONFLICT_RETRIES):
        current = cluster.get(api_version, kind, name, namespace)
        if current is None:
            return False
        updated = copy.deepcopy(current)
        edit(updated)
        if updated == current:
            return True
        try:
            cluster.replace(updated)
            return True
        except ApiError as error:
            if error.status != 409 or attempt == CONFLICT_RETRIES - 1:
                raise
            log.info("%s %s/%s changed while it was edited, retrying", kind, namespace, name)
    return True


def _delete(cluster: Cluster, kind: str, name: str, namespace: str) -> str:
    if cluster.delete("v1", kind, name, namespace):
        return f'deleted {kind} "{namespace}/{name}"'
    return f'note: {kind} "{namespace}/{name}" was already gone'
