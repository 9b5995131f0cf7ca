"""deploy.sh: deploy the federation control plane into a host cluster.

Usage: ``FEDERATION_OUTPUT_ROOT=DIR federation/deploy/deploy.sh ACTION [--dry-run] [-o json]``.
The variables are those of the original script (see ``federation.deploy.settings``).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from federation.core.cli import ArgumentParser, add_common_flags, run_main
from federation.core.environment import Environment
from federation.core.errors import InvalidInput, UsageError
from federation.core.files import exclusive_lock
from federation.core.runner import execute
from federation.core.status import Status

ACTIONS = {
    "init": "create FEDERATION_OUTPUT_ROOT with values.yaml and config.json, and check the prerequisites",
    "deploy_clusters": "create the kind clusters listed in config.json (KUBERNETES_PROVIDER=kind)",
    "deploy_federation": "deploy the control plane into the host cluster and write the federation-cluster context",
    "join_clusters": "register the kubeconfig contexts in FEDERATION_CLUSTERS as member clusters",
    "unjoin_clusters": "unregister the member clusters in FEDERATION_CLUSTERS",
    "redeploy_federation": "roll both Deployments to the images now in values.yaml",
    "destroy_federation": "delete everything deploy_federation created, kubeconfig entries included",
    "destroy_clusters": "delete the kind clusters listed in config.json (KUBERNETES_PROVIDER=kind)",
}


def build_parser() -> ArgumentParser:
    listing = "\n".join(f"  {name:<20} {text}" for name, text in ACTIONS.items())
    parser = ArgumentParser(
        prog="deploy.sh",
        description="Deploy the Kubernetes federation control plane into a host cluster.",
        epilog=f"actions:\n{listing}\n\nexit codes: 0 ok, 1 failed, 2 usage, 3 invalid input, 4 preflight failed, 5 timed out, 6 locked, 130 interrupted",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("action", nargs="?", help="one of the actions below")
    parser.add_argument("--dry-run", action="store_true", help="print the ordered plan (create, update, unchanged, delete) and change nothing")
    parser.add_argument("-o", "--output", choices=("text", "json"), default="text", help="format of the --dry-run plan")
    parser.add_argument("--timeout", help="seconds each bounded wait may take (default: FEDERATION_WAIT_TIMEOUT or 300)")
    parser.add_argument("--force", action="store_true", help="unjoin_clusters and destroy_federation: go on when a member is unreachable")
    add_common_flags(parser)
    return parser


def main(argv: list[str] | None = None) -> int:
    return run_main(_main, argv)


def _main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    if not args.action or args.action not in ACTIONS:
        got = f"got {args.action!r}" if args.action else "got none"
        raise UsageError(f"action must be one of: {', '.join(ACTIONS)} ({got})", hint="run deploy.sh --help for what each action does")

    env = Environment.load()
    if args.timeout is not None:
        env = env.with_overrides(FEDERATION_WAIT_TIMEOUT=args.timeout)
    status = Status(quiet=args.quiet)
    return HANDLERS[args.action](env, args, status)


def _init(env: Environment, args, status: Status) -> int:
    from federation.deploy import init, settings

    loaded = settings.load(env)
    init.run_init(loaded, status, dry_run=args.dry_run)
    return 0


def _require_output_root(loaded) -> None:
    if not loaded.output_root.is_dir():
        raise InvalidInput.variable("FEDERATION_OUTPUT_ROOT", str(loaded.output_root), "does not exist", "run deploy.sh init first, or point it at an existing directory")


def _with_job(action: Callable) -> Callable:
    """Load settings, values and the host cluster, then run ``action(job, args)`` under the output-root lock."""

    def handler(env: Environment, args, status: Status) -> int:
        from federation.core.kube import Cluster
        from federation.core.kubeconfig import Kubeconfig
        from federation.deploy import chart, settings
        from federation.deploy.control_plane import Job

        loaded = settings.load(env)
        _require_output_root(loaded)
        values = chart.load_values(loaded.values_path, loaded.provider)
        config = Kubeconfig.load(loaded.kubeconfig_paths)
        host_context = config.resolve_context(loaded.host_context, "FEDERATION_HOST_CLUSTER_CONTEXT")
        if host_context == loaded.federation_context:
            raise InvalidInput.variable(
                "FEDERATION_HOST_CLUSTER_CONTEXT" if loaded.host_context else "the current context",
                host_context,
                "is the federation API server's own context, not a host cluster",
                "set FEDERATION_HOST_CLUSTER_CONTEXT to the context of the cluster that runs the control plane",
            )
        job = Job(loaded, values, config, Cluster(config, host_context), status)

        with exclusive_lock(loaded.output_root / ".deploy", "FEDERATION_OUTPUT_ROOT"):
            return action(job, args)

    return handler


@_with_job
def _deploy_federation(job, args) -> int:
    from federation.deploy.control_plane import deploy_steps, deployments_table

    job.status.line(f"Deploying the federation control plane into {job.host.context!r} (namespace {job.namespace!r})")
    execute(deploy_steps(job), job.status, args.dry_run, args.output)
    if not args.dry_run:
        print(deployments_table(job))
        job.status.line(f"Context {job.settings.federation_context!r} is ready: kubectl --context={job.settings.federation_context} get clusters")
    return 0


@_with_job
def _destroy_federation(job, args) -> int:
    from federation.deploy.control_plane import destroy_steps
    from federation.deploy.members import unregister_step

    execute([unregister_step(job, args.force), *destroy_steps(job)], job.status, args.dry_run, args.output)
    return 0


@_with_job
def _redeploy_federation(job, args) -> int:
    from federation.deploy.control_plane import deployments_table, redeploy_steps

    execute(redeploy_steps(job), job.status, args.dry_run, args.output)
    if not args.dry_run:
        print(deployments_table(job))
    return 0


def _clusters(create: bool) -> Callable:
    def handler(env: Environment, args, status: Status) -> int:
        from federation.deploy import clusters, settings

        loaded = settings.load(env)
        _require_output_root(loaded)
        steps = clusters.deploy_steps(loaded, status) if create else clusters.destroy_steps(loaded, status)
        with exclusive_lock(loaded.output_root / ".deploy", "FEDERATION_OUTPUT_ROOT"):
            execute(steps, status, args.dry_run, args.output)
        return 0

    return handler


def _members(join: bool) -> Callable:
    @_with_job
    def handler(job, args) -> int:
        from federation.deploy.members import join_members, unjoin_members

        if join:
            join_members(job, args)
        else:
            unjoin_members(job, args)
        return 0

    return handler


HANDLERS = {
    "init": _init,
    "deploy_clusters": _clusters(create=True),
    "deploy_federation": _deploy_federation,
    "join_clusters": _members(join=True),
    "unjoin_clusters": _members(join=False),
    "redeploy_federation": _redeploy_federation,
    "destroy_federation": _destroy_federation,
    "destroy_clusters": _clusters(create=False),
}


if __name__ == "__main__":
    sys.exit(main())
