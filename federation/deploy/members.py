"""join_clusters and unjoin_clusters: the docs' manual registration step, automated.

The kubeconfig contexts listed in ``FEDERATION_CLUSTERS`` are joined to (or
removed from) the federation that deploy_federation set up, through the same
code as ``kubefed join`` and federation-up.sh.
"""

from __future__ import annotations

from federation.core.errors import FederationError, InvalidInput
from federation.core.kube import Cluster
from federation.core.kubeconfig import Kubeconfig
from federation.core.registration import Federation, federation_settings, join_all, member_from_context, unjoin
from federation.core.runner import Change, Step, print_plan
from federation.deploy.control_plane import Job


def _federation(job: Job) -> Federation:
    # Reload: deploy_federation may have added the federation context since the job started.
    config = Kubeconfig.load(job.settings.kubeconfig_paths)
    context = config.resolve_context(job.settings.federation_context, "FEDERATION_KUBE_CONTEXT")
    return federation_settings(job.host, Cluster(config, context), job.namespace, name=job.federation_name)


def _contexts(job: Job) -> list[str]:
    contexts = job.settings.member_contexts
    if not contexts:
        raise InvalidInput("FEDERATION_CLUSTERS is not set", hint="set it to the kubeconfig contexts of the member clusters, e.g. FEDERATION_CLUSTERS=kind-member1,kind-member2")
    known = job.kubeconfig.contexts()
    unknown = [context for context in contexts if context not in known]
    if unknown:
        # The federation API server's context can never be a member, so the hint leaves it out.
        choices = [context for context in known if context != job.settings.federation_context]
        raise InvalidInput.variable("FEDERATION_CLUSTERS", ",".join(contexts), f"names contexts that are not in the kubeconfig: {', '.join(unknown)}", f"use contexts from: {', '.join(choices)}")
    return contexts


def join_members(job: Job, args) -> None:
    contexts = _contexts(job)
    members = [member_from_context(job.kubeconfig, context) for context in contexts]
    federation = _federation(job)
    results = join_all(federation, members, job.status, timeout=job.settings.wait_timeout, dry_run=args.dry_run)
    if args.dry_run:
        print_plan(_steps(results, "join"), args.output)


def unjoin_members(job: Job, args) -> None:
    contexts = _contexts(job)
    federation = _federation(job)
    results: dict[str, list[Change]] = {}
    for context in contexts:
        member = member_from_context(job.kubeconfig, context)
        results[member.name] = unjoin(federation, member.name, member, job.status, force=args.force, dry_run=args.dry_run)
    if args.dry_run:
        print_plan(_steps(results, "unjoin"), args.output)


def _steps(results: dict[str, list[Change]], verb: str) -> list[tuple[str, list[Change]]]:
    return [(f"{verb} {name}", changes) for name, changes in results.items()]


def unregister_step(job: Job, force: bool) -> Step:
    """Build the step destroy_federation runs first, which unjoins every registered member.

    Without it, the members keep this federation's DNS entries (Corefile
    block, kube-dns map) and ServiceAccounts after the control plane is gone,
    and nothing can reach them through the federation any more.
    """
    return Step("register", "Unregistering the member clusters", lambda: unregister_all(job, force), lambda: plan_unregister_all(job))


def _registered(job: Job) -> tuple[Federation | None, list[str]]:
    """Return the federation and the names of its Clusters, or (None, []) when there is nothing to unregister."""
    config = Kubeconfig.load(job.settings.kubeconfig_paths)
    context = job.settings.federation_context
    if context not in config.contexts() or job.host.get("v1", "Namespace", job.namespace) is None:
        return None, []
    api = Cluster(config, context)
    try:
        federation = federation_settings(job.host, api, job.namespace, name=job.federation_name)
        clusters = api.list("federation/v1beta1", "Cluster")
    except FederationError as error:
        job.status.warn(f"cannot list the member clusters through context {context!r} ({error.message}); their DNS entries and credentials stay in the members")
        return None, []
    return federation, [item["metadata"]["name"] for item in clusters]


def unregister_all(job: Job, force: bool) -> None:
    federation, names = _registered(job)
    if not names:
        job.status.line("   no member clusters registered")
        return
    for name in names:
        unjoin(federation, name, _member_for(job, name), job.status, force=force)


def plan_unregister_all(job: Job) -> list[Change]:
    federation, names = _registered(job)
    changes: list[Change] = []
    for name in names:
        changes.extend(unjoin(federation, name, _member_for(job, name), job.status, dry_run=True))
    return changes


def _member_for(job: Job, name: str):
    """Return the member behind Cluster ``name`` from the context of that name, or None when there is none."""
    if name in job.kubeconfig.contexts():
        return member_from_context(job.kubeconfig, name)
    return None
