"""The build_image and push actions of develop.sh, as steps.

Every input is read and checked in ``BuildJob.load`` and ``PushJob.load``
before the first step runs, so a bad variable never leaves a half-done build.
"""

from __future__ import annotations

import contextlib
import shlex
from dataclasses import dataclass
from pathlib import Path

from federation.core.environment import Environment
from federation.core.errors import InvalidInput
from federation.core.gcloud import GcloudConfig, docker_config_for, is_gcr, load_config
from federation.core.images import ContainerEngine, ImageFile
from federation.core.runner import Change, Step
from federation.core.status import Status
from federation.core.values import update_keys
from federation.core.versions import read_versions_file, semantic_image_tag, write_versions_file
from federation.develop import settings

DEVELOP_BASE_IMAGE = "ubuntu:16.04"
IMAGE_KEYS = ("apiserverRegistry", "apiserverVersion", "controllerManagerRegistry", "controllerManagerVersion")


def hyperkube_image(registry: str, arch: str, version: str) -> str:
    """Return ``<registry>/hyperkube-<arch>:<version>``, the image develop.sh builds and deploy runs."""
    return f"{registry}/hyperkube-{arch}:{version}"


@dataclass(frozen=True)
class BuildJob:
    engine: ContainerEngine
    image: str
    version: str
    base_image: str
    binary: Path
    versions_path: Path
    network: str
    pull: bool

    @classmethod
    def load(cls, env: Environment, network: str = "none", pull: bool = False, check_engine: bool = True) -> "BuildJob":
        """Read and check every input of build_image; with ``check_engine``, also reach the engine."""
        engine = ContainerEngine.from_environment(env)
        root = settings.kube_root(env)
        registry = settings.kube_registry(env)
        binary = settings.built_binary(env, root, "hyperkube")
        versions_path = settings.output_root(env) / "versions"

        raw_version = env.value("KUBE_VERSION")
        version = settings.checked_tag("KUBE_VERSION", raw_version) if raw_version else semantic_image_tag(root)
        settings.checked_tag("KUBE_VERSION", version)

        if check_engine:
            engine.check()
        image = hyperkube_image(registry, settings.arch(env), version)
        return cls(engine, image, version, env.value("BASEIMAGE", DEVELOP_BASE_IMAGE), binary, versions_path, network, pull)


def build_image_steps(job: BuildJob, status: Status) -> list[Step]:
    """Build the image, then write the versions file, so a failed build leaves no version pointing at nothing."""
    files = [ImageFile(job.binary, "/hyperkube")]

    def build() -> None:
        status.line(f"Building docker image {job.image} from the binary {job.binary}")
        job.engine.build(job.image, job.base_image, files, network=job.network, pull=job.pull)

    def write_versions() -> None:
        write_versions_file(job.versions_path, job.version)
        status.line(f"Wrote to version file {job.versions_path}: {job.version}")

    build_argv = job.engine.build_argv(job.image, Path("<temporary context>"), job.network, job.pull)
    return [
        Step("image", f"build {job.image}", run=build, plan=lambda: [Change("run", shlex.join(build_argv), note=f"FROM {job.base_image}, /hyperkube from {job.binary}")]),
        Step("versions", f"write {job.versions_path}", run=write_versions, plan=lambda: [Change("write", str(job.versions_path), note=f'{{"KUBE_VERSION": "{job.version}"}}')]),
    ]


@dataclass(frozen=True)
class PushJob:
    engine: ContainerEngine
    image: str
    registry: str
    version: str
    kind_clusters: list[str]
    values_path: Path
    gcloud: GcloudConfig

    @classmethod
    def load(cls, env: Environment, kind_flags: list[str] = (), check_engine: bool = True) -> "PushJob":
        """Read and check every input of push; with ``check_engine``, also check that the image was built."""
        engine = ContainerEngine.from_environment(env)
        registry = settings.kube_registry(env)
        output_root = settings.output_root(env)
        clusters = settings.kind_clusters(env, list(kind_flags))

        raw_version = env.value("KUBE_VERSION") or read_versions_file(output_root / "versions")
        version = settings.checked_tag("KUBE_VERSION", raw_version)
        image = hyperkube_image(registry, settings.arch(env), version)

        if check_engine:
            engine.check()
            if not engine.exists(image):
                raise InvalidInput(f"image {image} not found in {engine.program}", hint="run develop.sh build_image first (with the same KUBE_REGISTRY and KUBE_VERSION)")
        return cls(engine, image, registry, version, clusters, output_root / "values.yaml", load_config(env))

    @property
    def uses_gcloud(self) -> bool:
        """Return whether the push logs in through gcloud: a gcr.io registry and a configured gcloud account."""
        return not self.kind_clusters and is_gcr(self.registry) and self.gcloud.usable

    @property
    def image_values(self) -> dict[str, str]:
        return {
            "apiserverRegistry": self.registry,
            "apiserverVersion": self.version,
            "controllerManagerRegistry": self.registry,
            "controllerManagerVersion": self.version,
        }


def push_steps(job: PushJob, status: Status) -> list[Step]:
    """Push the image or load it into kind, then point values.yaml at it."""

    def push() -> None:
        status.line(f"Pushing hyperkube image {job.image} to the registry")
        login = docker_config_for(job.registry, job.gcloud) if job.uses_gcloud else contextlib.nullcontext(None)
        with login as auth_dir:
            job.engine.push(job.image, auth_dir, registry_variable="KUBE_REGISTRY")

    def load_into_kind() -> None:
        for cluster in job.kind_clusters:
            status.line(f"Loading {job.image} into kind cluster {cluster}")
            job.engine.kind_load(job.image, cluster)

    def write_values() -> None:
        update_keys(job.values_path, job.image_values)

    def plan_push() -> list[Change]:
        if job.uses_gcloud:
            return [Change("run", shlex.join(job.engine.push_argv(job.image, Path("<temporary config>"))), note="logged in with gcloud auth print-access-token")]
        return [Change("run", shlex.join(job.engine.push_argv(job.image)))]

    def plan_kind() -> list[Change]:
        return [Change("run", shlex.join(job.engine.kind_load_argv(job.image, cluster)[0])) for cluster in job.kind_clusters]

    def plan_values() -> list[Change]:
        keys = ", ".join(f"{key}={value}" for key, value in job.image_values.items())
        return [Change("write", str(job.values_path), note=f"set {keys}; other keys and comments kept")]

    return [
        Step("push", f"push {job.image}", run=push, plan=plan_push, enabled=not job.kind_clusters),
        Step("kind-load", f"load {job.image} into kind clusters {', '.join(job.kind_clusters)}", run=load_into_kind, plan=plan_kind, enabled=bool(job.kind_clusters)),
        Step("values", f"set the image keys in {job.values_path}", run=write_values, plan=plan_values),
    ]
