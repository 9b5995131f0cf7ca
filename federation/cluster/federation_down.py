"""federation-down.sh: unregister the members and remove what federation-up.sh created.

Needs no image settings: only the names, the host context and the kubeconfig.
When nothing is deployed it prints that and exits 0.
"""

from __future__ import annotations

import sys

from federation.core.cli import ArgumentParser, add_common_flags, run_main
from federation.core.environment import Environment
from federation.core.status import Status


def parse(argv: list[str]):
    parser = ArgumentParser(
        prog="federation-down.sh",
        description="Unregister the member clusters and delete the federation control plane that federation-up.sh created "
        "(only objects labelled with FEDERATION_NAME), then remove its kubeconfig context.",
    )
    parser.add_argument("host_context", nargs="?", default="", metavar="HOST_CONTEXT", help="kubeconfig context of the host cluster (default: FEDERATION_HOST_CLUSTER_CONTEXT, else the current context)")
    parser.add_argument("--dry-run", action="store_true", help="print the planned deletions and change nothing (also FEDERATION_DRY_RUN=true)")
    parser.add_argument("-o", "--output", choices=("text", "json"), default="text", help="format of the --dry-run plan")
    add_common_flags(parser)
    return parser.parse_args(argv)


def main_body(argv: list[str]) -> int:
    from federation.cluster.down_steps import DownJob
    from federation.cluster.settings import load_common, run_lock

    args = parse(argv)
    settings = load_common(Environment.load(), args.host_context, args.dry_run, args.output)
    status = Status(quiet=args.quiet or settings.output == "json")
    job = DownJob(settings, status)

    with run_lock(settings):
        return _remove(job, settings, status)


def _remove(job, settings, status: Status) -> int:
    from federation.core.runner import execute

    job.preflight()
    if not job.deployed():
        status.line(
            f"Nothing to remove: federation {settings.federation_name!r} has no objects in context {settings.host_context} "
            f"(namespace {settings.namespace}) and the kubeconfig has no context {settings.kube_context}"
        )
        if settings.dry_run:
            execute([], status, dry_run=True, output=settings.output)
        return 0

    execute(job.steps(), status, dry_run=settings.dry_run, output=settings.output)
    for item in job.left_behind:
        status.warn(f"not cleaned: {item}")
    return 0


def main(argv: list[str] | None = None) -> int:
    return run_main(main_body, argv)


if __name__ == "__main__":
    sys.exit(main())
