"""``kubefed join`` and ``kubefed unjoin`` with kubefed's flag names.

    kubefed join CLUSTER_NAME --host-cluster-context=HOST [--cluster-context=CTX] ...
    kubefed unjoin CLUSTER_NAME --host-cluster-context=HOST [--force] ...

CLUSTER_NAME may be a kubeconfig context name such as ``admin@kind:a/eu``.
The Cluster object then gets a valid name derived from it, and a progress
line prints that name.
"""

from __future__ import annotations

import json
import math
import sys
from dataclasses import asdict
from pathlib import Path

from federation.core.cli import ArgumentParser, add_common_flags, run_main
from federation.core.environment import Environment
from federation.core.errors import InvalidInput

DEFAULT_NAMESPACE = "federation-system"


def build_parser() -> ArgumentParser:
    parser = ArgumentParser(prog="kubefed", description="Register member clusters with a federation, or remove them.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=ArgumentParser)

    join = commands.add_parser("join", help="register a cluster with the federation and wire its DNS")
    unjoin = commands.add_parser("unjoin", help="remove a cluster from the federation and undo what join did")
    for sub in (join, unjoin):
        sub.add_argument("cluster_name", metavar="CLUSTER_NAME", help="name of the Cluster object (a kubeconfig context name is turned into a valid name)")
        sub.add_argument("--host-cluster-context", default="", help="context of the host cluster (default: FEDERATION_HOST_CLUSTER_CONTEXT, else the current context)")
        sub.add_argument("--cluster-context", default="", help="context of the member cluster (default: CLUSTER_NAME)")
        sub.add_argument("--context", default="", help="context of the federation API server (default: FEDERATION_KUBE_CONTEXT, else a context named after the federation, else federation-cluster)")
        sub.add_argument("--kubeconfig", default="", help="kubeconfig file to use instead of KUBECONFIG")
        sub.add_argument("--federation-system-namespace", default="", help=f"namespace of the control plane in the host (default: FEDERATION_NAMESPACE, else {DEFAULT_NAMESPACE})")
        sub.add_argument("--federation-name", default="", help="federation name (default: --federation-name of the host's controller manager)")
        sub.add_argument("--dns-zone-name", default="", help="DNS zone of the federation (default: --zone-name of the controller manager)")
        sub.add_argument("--dns-provider", default="", help="google-clouddns, aws-route53 or coredns (default: --dns-provider of the controller manager)")
        sub.add_argument("--dns-provider-config", default="", help="local DNS provider config; coredns-endpoints become the zone's nameservers (default: FEDERATION_DNS_PROVIDER_CONFIG)")
        sub.add_argument("--timeout", type=float, default=120, help="seconds to wait for the Cluster to be Ready (0: do not wait; default 120)")
        sub.add_argument("--dry-run", action="store_true", help="print the planned changes and change nothing")
        sub.add_argument("-o", "--output", choices=("text", "json"), default="text", help="format of the result on stdout")
        add_common_flags(sub)

    join.add_argument("--secret-name", default="", help="name of the host Secret with the member's credentials (default: the cluster name)")
    join.add_argument("--credentials", choices=("kubeconfig", "serviceaccount"), default="kubeconfig", help="store the member context's kubeconfig, or a token of a ServiceAccount created in the member")
    join.add_argument("--cluster-role-rules", choices=("all", "read"), default="all", help="with --credentials=serviceaccount: all verbs on all resources (as kubefed), or only get, list and watch")
    unjoin.add_argument("--force", action="store_true", help="remove the registration even when the member cannot be reached, and list what stays in it")
    return parser


def main(argv: list[str] | None = None) -> int:
    return run_main(_body, argv)


def _body(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    env = Environment.load()

    from federation.core.kube import Cluster
    from federation.core.kubeconfig import Kubeconfig, kubeconfig_paths
    from federation.core.registration import federation_settings, join, member_from_context, resolve_api_context, unjoin
    from federation.core.status import Status
    from federation.core.validation import cluster_name_from_context

    if not math.isfinite(args.timeout) or args.timeout < 0:
        raise InvalidInput.variable("--timeout", f"{args.timeout:g}", "is not a number of seconds of 0 or more", "pass 0 to skip the wait, or the seconds to wait (default 120)")
    status = Status(quiet=args.quiet)
    paths = [Path(args.kubeconfig).expanduser()] if args.kubeconfig else kubeconfig_paths(env)
    config = Kubeconfig.load(paths)

    name = cluster_name_from_context(args.cluster_name)
    if name != args.cluster_name:
        status.line(f'using cluster name "{name}" for "{args.cluster_name}" (Cluster names must be DNS-1123 subdomains)')
    host_context = config.resolve_context(args.host_cluster_context or env.value("FEDERATION_HOST_CLUSTER_CONTEXT", ""), "--host-cluster-context")
    namespace = args.federation_system_namespace or env.value("FEDERATION_NAMESPACE", DEFAULT_NAMESPACE)
    provider_config = args.dns_provider_config or env.value("FEDERATION_DNS_PROVIDER_CONFIG", "")
    if provider_config and not Path(provider_config).is_file():
        source = "--dns-provider-config" if args.dns_provider_config else "FEDERATION_DNS_PROVIDER_CONFIG"
        raise InvalidInput.variable(source, provider_config, "is not an existing file", f"set {source} to the DNS provider's config file, or leave it empty")

    host = Cluster(config, host_context)
    federation_name = args.federation_name or env.value("FEDERATION_NAME", "")
    api_context = resolve_api_context(config, args.context, federation_name, env)
    federation = federation_settings(
        host,
        Cluster(config, api_context),
        namespace,
        name=federation_name,
        zone=args.dns_zone_name,
        provider=args.dns_provider,
        provider_config=Path(provider_config) if provider_config else None,
        domain_map=env.value("FEDERATIONS_DOMAIN_MAP", ""),
    )

    cluster_context = args.cluster_context or args.cluster_name
    if args.command == "join":
        member = member_from_context(config, cluster_context, name, exclude=(api_context,))
        changes = join(
            federation,
            member,
            status,
            secret_name=args.secret_name or None,
            credentials=args.credentials,
            cluster_role_rules=args.cluster_role_rules,
            timeout=args.timeout,
            dry_run=args.dry_run,
        )
    else:
        member = member_from_context(config, cluster_context, name) if cluster_context in config.contexts() else None
        changes = unjoin(federation, name, member, status, force=args.force, timeout=args.timeout, dry_run=args.dry_run)

    _print_result(args, name, changes)
    return 0


def _print_result(args, name: str, changes: list) -> None:
    from federation.core.runner import print_plan

    if args.dry_run:
        print_plan([(args.command, changes)], args.output, sys.stdout)
        return
    if args.output == "json":
        json.dump({"cluster": name, "command": args.command, "changes": [asdict(change) for change in changes]}, sys.stdout, indent=2)
        sys.stdout.write("\n")
        return
    if args.command == "join":
        created = any(change.action == "create" and change.target.startswith("Cluster ") for change in changes)
        print(f'cluster "{name}" {"created" if created else "configured"}')


if __name__ == "__main__":
    sys.exit(main())
