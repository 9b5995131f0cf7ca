"""federation-up.sh: bring up a federation control plane in the host cluster and register the members.

Settings come from the environment variables of the original script (see
``federation.cluster.settings``). The host cluster's context may also be
given as the first argument, as the e2e jobs passed it.
"""

from __future__ import annotations

import sys

from federation.core.cli import ArgumentParser, add_common_flags, run_main
from federation.core.environment import Environment
from federation.core.status import Status


def parse(argv: list[str]):
    parser = ArgumentParser(
        prog="federation-up.sh",
        description="Deploy the federation control plane into the host cluster and register the member clusters. "
        "Settings come from environment variables (KUBERNETES_PROVIDER, FEDERATION_NAME, DNS_ZONE_NAME, FEDERATION_PUSH_REPO_BASE, ...).",
    )
    parser.add_argument("host_context", nargs="?", default="", metavar="HOST_CONTEXT", help="kubeconfig context of the host cluster (default: FEDERATION_HOST_CLUSTER_CONTEXT, else the current context)")
    parser.add_argument("--dry-run", action="store_true", help="print the planned changes and change nothing (also FEDERATION_DRY_RUN=true)")
    parser.add_argument("-o", "--output", choices=("text", "json"), default="text", help="format of the --dry-run plan")
    add_common_flags(parser)
    return parser.parse_args(argv)


def main_body(argv: list[str]) -> int:
    from federation.cluster.settings import load_up, run_lock
    from federation.cluster.up_steps import UpJob
    from federation.core.runner import execute

    args = parse(argv)
    settings = load_up(Environment.load(), args.host_context, args.dry_run, args.output)
    status = Status(quiet=args.quiet or settings.output == "json")

    for notice in settings.notices:
        status.line(notice)
    if settings.use_kubefed:
        status.line(f"Deploying federation control plane for {settings.federation_name} in cluster {settings.host_context}")
        status.line(f'DNS_ZONE_NAME: "{settings.dns_zone}", DNS_PROVIDER: "{settings.dns_provider}"')
        status.line(f'Image: "{settings.image}"')

    job = UpJob(settings, status)
    with run_lock(settings):
        execute(job.steps(), status, dry_run=settings.dry_run, output=settings.output)
    return 0


def main(argv: list[str] | None = None) -> int:
    return run_main(main_body, argv)


if __name__ == "__main__":
    sys.exit(main())
