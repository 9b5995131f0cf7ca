"""develop.sh: build Kubernetes, build and push the hyperkube image, and forward deploy actions.

Usage: ``KUBE_ROOT=DIR federation/develop/develop.sh ACTION [--dry-run] [flags]``.
The variables are those of the original script (see ``federation.develop.settings``).
The deploy actions go to deploy.sh with ``FEDERATION_OUTPUT_ROOT`` set.
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path

from federation.core.cli import ArgumentParser, add_common_flags, run_main
from federation.core.environment import Environment
from federation.core.errors import ExitCode, UsageError
from federation.core.runner import Change, Step, execute
from federation.core.status import Status
from federation.develop import settings

BUILD_ACTIONS = {
    "build_binaries": "run make WHAT=\"cmd/kubectl cmd/hyperkube\" in KUBE_ROOT",
    "build_image": "build ${KUBE_REGISTRY}/hyperkube-amd64:<version> from the built hyperkube and write the versions file",
    "push": "push that image (or load it into kind clusters) and set the image keys in values.yaml",
}

BUILD_TIMEOUT_DEFAULT = 3600.0


def deploy_actions() -> tuple[str, ...]:
    """Return the actions deploy.sh accepts, which develop.sh forwards."""
    from federation.deploy.deploy import ACTIONS

    return tuple(ACTIONS)


def build_parser() -> ArgumentParser:
    listing = "\n".join(f"  {name:<20} {text}" for name, text in BUILD_ACTIONS.items())
    forwarded = ", ".join(deploy_actions())
    parser = ArgumentParser(
        prog="develop.sh",
        description="Build the hyperkube image from a Kubernetes checkout, push it, and deploy the federation with it.",
        epilog=(
            f"actions:\n{listing}\n  (deploy.sh actions, forwarded with FEDERATION_OUTPUT_ROOT set: {forwarded})\n\n"
            "exit codes: 0 ok, 1 failed (build, push or engine error), 2 usage, 3 invalid input, "
            "4 preflight failed (container engine down, program missing, BASEIMAGE not stored locally), 5 timed out, 130 interrupted"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("action", nargs="?", help="one of the actions below")
    parser.add_argument("--dry-run", action="store_true", help="print the commands it would run and the files it would write, and change nothing")
    parser.add_argument("-o", "--output", choices=("text", "json"), default="text", help="format of the --dry-run plan")
    parser.add_argument("--targets", help="build_binaries: the make WHAT targets (default: KUBE_BUILD_TARGETS or \"cmd/kubectl cmd/hyperkube\")")
    parser.add_argument("--build-timeout", type=float, default=BUILD_TIMEOUT_DEFAULT, help="seconds make may run (default: %(default)g)")
    parser.add_argument("--network", default="none", help="build_image: the network of the image build (default: none, the build needs no network)")
    parser.add_argument("--pull", action="store_true", help="build_image: pull BASEIMAGE (or a newer one) before building (default: BASEIMAGE must be stored locally)")
    parser.add_argument("--kind-cluster", action="append", default=[], metavar="NAME", help="push: load the image into this kind cluster instead of pushing (repeatable; default: KIND_CLUSTERS)")
    add_common_flags(parser)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    forwarded = _forwarded_action(argv)
    if forwarded is not None:
        return run_main(forward_to_deploy, argv)
    return run_main(_main, argv)


def _forwarded_action(argv: list[str]) -> str | None:
    positional = [arg for arg in argv if not arg.startswith("-")]
    if positional and positional[0] in deploy_actions():
        return positional[0]
    return None


def _main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    if args.action not in BUILD_ACTIONS:
        got = f"got {args.action!r}" if args.action else "got none"
        valid = [*BUILD_ACTIONS, *deploy_actions()]
        raise UsageError(f"action must be one of: {', '.join(valid)} ({got})", hint="run develop.sh --help for what each action does")

    env = Environment.load()
    status = Status(quiet=args.quiet)
    steps = ACTION_STEPS[args.action](env, args, status)
    execute(steps, status, dry_run=args.dry_run, output=args.output)
    return int(ExitCode.OK)


def build_binaries_steps(env: Environment, args: argparse.Namespace, status: Status) -> list[Step]:
    """Plan ``make WHAT="cmd/kubectl cmd/hyperkube"`` in KUBE_ROOT, on the host."""
    # NOTE: the original built inside Kubernetes' kube-build container (output in
    # _output/dockerized); this runs the host's make (output in _output/local).
    from federation.core.programs import run

    root = settings.kube_root(env)
    targets = args.targets or env.value("KUBE_BUILD_TARGETS", settings.DEFAULT_BUILD_TARGETS)
    argv = ["make", f"WHAT={targets}"]

    def build() -> None:
        run(*argv, timeout=args.build_timeout, cwd=str(root), stream=sys.stderr, hint=f"fix the build in KUBE_ROOT={root}, then run develop.sh build_binaries again")

    return [Step("build", f"make {targets} in {root}", run=build, plan=lambda: [Change("run", shlex.join(argv), note=f"in {root}")])]


def build_image_steps(env: Environment, args: argparse.Namespace, status: Status) -> list[Step]:
    from federation.develop import images

    job = images.BuildJob.load(env, network=args.network, pull=args.pull, check_engine=not args.dry_run)
    return images.build_image_steps(job, status)


def push_steps(env: Environment, args: argparse.Namespace, status: Status) -> list[Step]:
    from federation.develop import images

    job = images.PushJob.load(env, kind_flags=args.kind_cluster, check_engine=not args.dry_run)
    return images.push_steps(job, status)


ACTION_STEPS = {
    "build_binaries": build_binaries_steps,
    "build_image": build_image_steps,
    "push": push_steps,
}


def forward_to_deploy(argv: list[str]) -> int:
    """Run deploy.sh's ``main`` with the same arguments and ``FEDERATION_OUTPUT_ROOT`` set, as the original did.

    Without ``FEDERATION_OUTPUT_ROOT`` and ``KUBE_ROOT`` the variable stays
    unset, and deploy.sh reports it for the actions that need it.
    """
    env = Environment.load()
    if not env.value("FEDERATION_OUTPUT_ROOT") and env.value("KUBE_ROOT"):
        os.environ["FEDERATION_OUTPUT_ROOT"] = str(settings.output_root(env))

    from federation.deploy.deploy import main as deploy_main

    return deploy_main(list(argv))


if __name__ == "__main__":
    sys.exit(main())
