"""push-federation-images.sh: build and push ``${FEDERATION_PUSH_REPO_BASE}/hyperkube:<tag>``.

This is the ≈v1.4/v1.5 script: one image from the built hyperkube binary,
at ``/usr/local/bin/hyperkube`` (and linked at ``/hyperkube``), pushed to
``FEDERATION_PUSH_REPO_BASE``. The tag goes to
``federation/manifests/federated-image.tag`` so federation-up.sh deploys it.

| Variable | Default | Effect |
|---|---|---|
| FEDERATION_PUSH_REPO_BASE | gcr.io/<project> on gce/gke with gcloud configured, else required | repository base |
| FEDERATION_IMAGE_TAG | semantic version of KUBE_ROOT's git state | image tag |
| FEDERATION_IMAGE_TAG_FILE | federation/manifests/federated-image.tag in this checkout | where the tag is written |
| KUBE_ROOT | required | tree with the built binary |
| KUBE_BUILD_STAGE, KUBE_PLATFORM, KUBE_ARCH | release-stage, linux, amd64 | which built binary is used |
| BASEIMAGE | debian:jessie | base of the image; must be stored locally unless --pull is given |
| CONTAINER_ENGINE | docker | docker or podman |

``FEDERATION=true``, which the release docs set for ``make quick-release``,
is accepted and has no effect here, as in the original.
"""

from __future__ import annotations

import argparse
import contextlib
import shlex
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from federation.core.cli import ArgumentParser, add_common_flags, run_main
from federation.core.environment import Environment
from federation.core.errors import CommandFailed, ExitCode
from federation.core.files import atomic_write
from federation.core.gcloud import GcloudConfig, docker_config_for, is_gcr, load_config
from federation.core.images import ContainerEngine, ImageFile
from federation.core.runner import Change, Step, execute
from federation.core.status import Status
from federation.core.versions import semantic_image_tag
from federation.develop import settings

PUSH_BASE_IMAGE = "debian:jessie"
DEFAULT_TAG_FILE = Path(__file__).resolve().parents[1] / "manifests" / "federated-image.tag"


@dataclass(frozen=True)
class PushImagesJob:
    engine: ContainerEngine
    image: str
    repo_base: str
    tag: str
    base_image: str
    binary: Path
    tag_file: Path
    gcloud: GcloudConfig
    network: str
    pull: bool
    keep_local_tag: bool

    @classmethod
    def load(cls, env: Environment, args: argparse.Namespace) -> "PushImagesJob":
        """Read and check every input before the first side effect; reach the engine unless ``--dry-run``."""
        engine = ContainerEngine.from_environment(env)
        root = settings.kube_root(env)
        repo_base = settings.push_repo_base(env)

        raw_tag = env.value("FEDERATION_IMAGE_TAG")
        tag = settings.checked_tag("FEDERATION_IMAGE_TAG", raw_tag or semantic_image_tag(root))

        stage = env.value("KUBE_BUILD_STAGE", "release-stage")
        platform = env.value("KUBE_PLATFORM", "linux")
        release_binary = settings.local_output_root(env, root) / stage / "server" / f"{platform}-{settings.arch(env)}" / "kubernetes" / "server" / "bin" / "hyperkube"
        binary = settings.built_binary(env, root, "hyperkube", extra=[release_binary])

        tag_file = Path(env.value("FEDERATION_IMAGE_TAG_FILE", str(DEFAULT_TAG_FILE))).expanduser()
        if not args.dry_run:
            engine.check()
        return cls(
            engine=engine,
            image=f"{repo_base}/hyperkube:{tag}",
            repo_base=repo_base,
            tag=tag,
            base_image=env.value("BASEIMAGE", PUSH_BASE_IMAGE),
            binary=binary,
            tag_file=tag_file,
            gcloud=load_config(env),
            network=args.network,
            pull=args.pull,
            keep_local_tag=args.keep_local_image,
        )

    @property
    def uses_gcloud(self) -> bool:
        return is_gcr(self.repo_base) and self.gcloud.usable


def push_images_steps(job: PushImagesJob, status: Status) -> list[Step]:
    """Build, push, write the tag file, then remove the local tag the build created.

    The local tag is also removed when the push or the tag file fails, unless
    ``--keep-local-image`` is given.
    """
    files = [ImageFile(job.binary, "/usr/local/bin/hyperkube", links=("/hyperkube",))]

    def build() -> None:
        status.line(f"Building docker image {job.image} from the binary {job.binary}")
        job.engine.build(job.image, job.base_image, files, network=job.network, pull=job.pull)

    def push() -> None:
        status.line(f"Pushing {job.image}")
        if job.uses_gcloud:
            status.line(" -> GCR repository detected. Using gcloud")
        login = docker_config_for(job.repo_base, job.gcloud) if job.uses_gcloud else contextlib.nullcontext(None)
        with login as auth_dir:
            job.engine.push(job.image, auth_dir, registry_variable="FEDERATION_PUSH_REPO_BASE")

    def write_tag() -> None:
        job.tag_file.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(job.tag_file, f"{job.tag}\n", mode=0o644)
        status.line(f"Wrote {job.tag} to {job.tag_file}")

    def untag(outcome: str) -> None:
        try:
            job.engine.untag(job.image)
        except CommandFailed as error:
            status.warn(f"could not remove the local tag {job.image}: {error.message}")
            return
        status.line(f"Removed the local tag {job.image} {outcome}")

    def untag_on_failure(action: Callable[[], None], name: str) -> Callable[[], None]:
        """Wrap a step that runs after the build, so its failure, Ctrl-C or SIGTERM also removes the local tag."""

        def guarded() -> None:
            try:
                action()
            except BaseException:
                if not job.keep_local_tag:
                    untag(f"because {name} failed")
                raise

        return guarded

    build_argv = job.engine.build_argv(job.image, Path("<temporary context>"), job.network, job.pull)
    push_argv = job.engine.push_argv(job.image, Path("<temporary config>") if job.uses_gcloud else None)
    return [
        Step("image", f"build {job.image}", run=build, plan=lambda: [Change("run", shlex.join(build_argv), note=f"FROM {job.base_image}, /usr/local/bin/hyperkube from {job.binary}")]),
        Step("push", f"push {job.image}", run=untag_on_failure(push, "the push"), plan=lambda: [Change("run", shlex.join(push_argv))]),
        Step("tag-file", f"write {job.tag_file}", run=untag_on_failure(write_tag, f"writing {job.tag_file}"), plan=lambda: [Change("write", str(job.tag_file), note=job.tag)]),
        Step(
            "untag",
            f"remove the local tag {job.image}",
            run=lambda: untag("after the push; the pushed image stays in the registry"),
            plan=lambda: [Change("run", shlex.join(job.engine.untag_argv(job.image)), note="the pushed image stays in the registry")],
            enabled=not job.keep_local_tag,
        ),
    ]


def build_parser() -> ArgumentParser:
    parser = ArgumentParser(
        prog="push-federation-images.sh",
        description="Build ${FEDERATION_PUSH_REPO_BASE}/hyperkube:<tag> from the built hyperkube binary, push it, and write federation/manifests/federated-image.tag.",
        epilog="exit codes: 0 ok, 1 failed (build or push), 2 usage, 3 invalid input, 4 preflight failed (container engine down, BASEIMAGE not stored locally), 5 timed out, 130 interrupted",
    )
    parser.add_argument("--dry-run", action="store_true", help="print the commands it would run and the files it would write, and change nothing")
    parser.add_argument("-o", "--output", choices=("text", "json"), default="text", help="format of the --dry-run plan")
    parser.add_argument("--network", default="none", help="network of the image build (default: none)")
    parser.add_argument("--pull", action="store_true", help="pull BASEIMAGE before building (default: BASEIMAGE must be stored locally)")
    parser.add_argument("--keep-local-image", action="store_true", help="keep the local tag after the push or a failure (default: remove it, as the original did after a push)")
    add_common_flags(parser)
    return parser


def main(argv: list[str] | None = None) -> int:
    return run_main(_main, argv)


def _main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    env = Environment.load()
    status = Status(quiet=args.quiet)
    job = PushImagesJob.load(env, args)
    execute(push_images_steps(job, status), status, dry_run=args.dry_run, output=args.output)
    return int(ExitCode.OK)


if __name__ == "__main__":
    sys.exit(main())
