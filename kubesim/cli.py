"""Command line: `python -m kubesim up ...` runs simulated clusters until SIGINT or SIGTERM."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading

from .cluster import ClusterSpec
from .simulation import SimulatedClusters


def _pairs(values: list[str], option: str) -> dict[str, str]:
    result = {}
    for value in values:
        cluster, separator, setting = value.partition("=")
        if not separator or not cluster or not setting:
            raise SystemExit(f"kubesim: invalid {option} {value!r}: expected CLUSTER=VALUE")
        result[cluster] = setting
    return result


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m kubesim", description=(
        "Simulated Kubernetes clusters for tests: HTTPS API servers on 127.0.0.1 with simulated "
        "controllers. No containers run."))
    commands = parser.add_subparsers(dest="command", required=True)
    up = commands.add_parser("up", help="start simulated clusters and run until SIGINT or SIGTERM")
    up.add_argument("--cluster", action="append", required=True, metavar="NAME",
                    help="name of a cluster to start (repeat for more clusters)")
    up.add_argument("--kubeconfig", required=True, metavar="PATH",
                    help="kubeconfig file to write, one context per cluster (mode 0600)")
    up.add_argument("--context-name", action="append", default=[], metavar="CLUSTER=CONTEXT",
                    help="context name for a cluster (default: the cluster name)")
    up.add_argument("--load-balancer", action="append", default=[], metavar="CLUSTER",
                    help="give LoadBalancer Services of this cluster a loopback address of their own")
    up.add_argument("--kube-dns", action="append", default=[], metavar="CLUSTER",
                    help="seed this cluster with kube-dns 1.14 instead of CoreDNS")
    up.add_argument("--kube-dns-legacy", action="append", default=[], metavar="CLUSTER",
                    help="seed this cluster with kube-dns 1.4, which has no ConfigMap support")
    up.add_argument("--require-token", action="append", default=[], metavar="CLUSTER",
                    help="reject requests to this cluster that carry no valid bearer token")
    up.add_argument("--ready-delay", type=float, default=0.0, metavar="SECONDS",
                    help="seconds before a new pod becomes Running and Ready (default 0)")
    up.add_argument("--verbose", action="store_true", help="log requests and controller activity")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")

    names = args.cluster
    contexts = _pairs(args.context_name, "--context-name")
    for option, clusters in (("--context-name", contexts), ("--load-balancer", args.load_balancer),
                             ("--kube-dns", args.kube_dns), ("--kube-dns-legacy", args.kube_dns_legacy),
                             ("--require-token", args.require_token)):
        unknown = set(clusters) - set(names)
        if unknown:
            raise SystemExit(f"kubesim: {option} names unknown clusters {sorted(unknown)}; "
                             f"declare them with --cluster")

    specs = []
    for name in names:
        dns = "kube-dns" if name in args.kube_dns else "kube-dns-legacy" if name in args.kube_dns_legacy \
            else "coredns"
        specs.append(ClusterSpec(name, context=contexts.get(name), load_balancer=name in args.load_balancer,
                                 dns=dns, require_token=name in args.require_token, ready_delay=args.ready_delay))

    stopping = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stopping.set())
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())

    sim = SimulatedClusters(specs, args.kubeconfig).start()
    print("*** kubesim: these are SIMULATED Kubernetes clusters (a test double); no containers run ***",
          flush=True)
    for cluster in sim:
        print(f"cluster {cluster.name}: context {cluster.context} listening on {cluster.url}", flush=True)
    print(f"kubeconfig written to {args.kubeconfig}", flush=True)

    try:
        while not stopping.wait(0.5):
            pass
    finally:
        sim.stop()
        print("kubesim: stopped", file=sys.stderr, flush=True)
    return 0
