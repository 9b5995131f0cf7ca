"""Container images: build from a binary, tag, push, pull, inspect and load into kind.

``ContainerEngine`` builds the argument lists for docker or podman, which
share these verbs, and runs them through ``federation.core.programs``. The
``*_argv`` methods are pure, so the commands for each engine can be checked
without either installed. Failures become errors that name the engine, its
daemon address, the registry and the image.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from federation.core.errors import CommandFailed, InvalidInput, PreflightFailed
from federation.core.programs import run

ENGINES = ("docker", "podman")
CHECK_TIMEOUT = 30.0
BUILD_TIMEOUT = 1800.0
PUSH_TIMEOUT = 1800.0
KIND_LOAD_TIMEOUT = 600.0


@dataclass(frozen=True)
class ImageFile:
    """One file of a built image: ``source`` on the host copied to ``target``, an absolute path in the image."""

    source: Path
    target: str
    links: tuple[str, ...] = ()  # absolute paths in the image that become symlinks to ``target``


@dataclass(frozen=True)
class ContainerEngine:
    """docker or podman, with the environment that selects its daemon."""

    program: str = "docker"
    environ: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_environment(cls, environ: Mapping[str, str]) -> "ContainerEngine":
        """Return the engine named by ``CONTAINER_ENGINE`` (docker when unset)."""
        program = environ.get("CONTAINER_ENGINE") or "docker"
        if program not in ENGINES:
            raise InvalidInput.variable("CONTAINER_ENGINE", program, "is not a supported container engine", "set CONTAINER_ENGINE to docker or podman")
        return cls(program, dict(environ))

    @property
    def daemon_address(self) -> str:
        """Return the daemon the CLI talks to, for error messages."""
        if self.program == "podman":
            return self.environ.get("CONTAINER_HOST") or "the local podman service"
        if self.environ.get("DOCKER_HOST"):
            return self.environ["DOCKER_HOST"]
        if self.environ.get("DOCKER_CONTEXT"):
            return f"docker context {self.environ['DOCKER_CONTEXT']}"
        return "unix:///var/run/docker.sock"

    def version_argv(self) -> list[str]:
        field_name = "{{.Version}}" if self.program == "podman" else "{{.Server.Version}}"
        return [self.program, "version", "--format", field_name]

    def build_argv(self, image: str, context: Path, network: str = "none", pull: bool = False) -> list[str]:
        argv = [self.program, "build", f"--network={network}", "--tag", image]
        if pull:
            argv.append("--pull")
        return [*argv, str(context)]

    def push_argv(self, image: str, auth_dir: Path | None = None) -> list[str]:
        if auth_dir is None:
            return [self.program, "push", image]
        if self.program == "podman":
            return [self.program, "push", "--authfile", str(auth_dir / "config.json"), image]
        return [self.program, "--config", str(auth_dir), "push", image]

    def pull_argv(self, image: str) -> list[str]:
        return [self.program, "pull", image]

    def tag_argv(self, source: str, target: str) -> list[str]:
        return [self.program, "tag", source, target]

    def inspect_argv(self, image: str) -> list[str]:
        return [self.program, "image", "inspect", "--format", "{{.Id}}", image]

    def untag_argv(self, image: str) -> list[str]:
        """Remove the name ``image`` only: the image itself goes only when no other name refers to it."""
        if self.program == "podman":
            return [self.program, "untag", image, image]
        return [self.program, "rmi", "--no-prune", image]

    def kind_load_argv(self, image: str, cluster: str) -> tuple[list[str], dict[str, str]]:
        """Return the ``kind load docker-image`` command and the variables that point kind at this engine."""
        env = {"KIND_EXPERIMENTAL_PROVIDER": "podman"} if self.program == "podman" else {}
        return ["kind", "load", "docker-image", "--name", cluster, image], env

    def run_time_argv(self, image: str, command: Sequence[str]) -> list[str]:
        return [self.program, "run", "--rm", "--network=none", image, *command]

    # Side effects start here.

    def check(self) -> str:
        """Return the engine's server version, or raise ``PreflightFailed`` saying how to start it."""
        try:
            return self._run(self.version_argv(), CHECK_TIMEOUT).strip()
        except CommandFailed as error:
            raise PreflightFailed(
                f"{self.program} cannot reach its daemon at {self.daemon_address}: {_last_line(error.stderr)}",
                hint=self._start_hint(),
            ) from None

    def build(self, image: str, base_image: str, files: Sequence[ImageFile], network: str = "none", pull: bool = False) -> None:
        """Build ``image`` from ``base_image`` plus ``files``, in a generated context that is removed afterwards.

        Without ``pull`` the base image must already be stored locally (see ``require_local_image``).
        """
        if not pull:
            self.require_local_image(base_image)

        with tempfile.TemporaryDirectory(prefix="federation-image-") as directory:
            context = Path(directory)
            write_build_context(context, base_image, files)
            try:
                self._run(self.build_argv(image, context, network, pull), BUILD_TIMEOUT)
            except CommandFailed as error:
                pull_hint = f"; --pull needs {base_image} to be reachable in its registry" if pull else ""
                raise CommandFailed(
                    f"{self.program} build --tag {image}",
                    error.returncode,
                    error.stderr,
                    hint=f"see the {self.program} output above{pull_hint}",
                ) from None

    def require_local_image(self, base_image: str) -> None:
        """Raise ``PreflightFailed`` unless the engine stores ``base_image`` (``scratch`` needs no image).

        A missing ``FROM`` image makes the daemon pull it, from Docker Hub when the
        name has no registry host. ``--network=none`` does not prevent that pull,
        because ``docker build --network`` sets the network of ``RUN`` instructions only.
        """
        if base_image == "scratch" or self.exists(base_image):
            return
        raise PreflightFailed(
            f"BASEIMAGE={base_image!r} not found among the local images of {self.program} at {self.daemon_address}, "
            "and the build does not download base images",
            hint=f"run '{self.program} pull {base_image}' or add --pull to download it, or set BASEIMAGE to an image that '{self.program} image ls' lists",
        )

    def exists(self, image: str) -> bool:
        """Return whether the engine stores an image named ``image``."""
        try:
            self._run(self.inspect_argv(image), CHECK_TIMEOUT)
        except CommandFailed:
            return False
        return True

    def push(self, image: str, auth_dir: Path | None = None, *, registry_variable: str) -> None:
        """Push ``image``; a rejected push names the registry, the image and the likely fix.

        ``registry_variable`` is the variable that sets the registry in the calling script,
        so the fix names the setting the user can change.
        """
        try:
            self._run(self.push_argv(image, auth_dir), PUSH_TIMEOUT)
        except CommandFailed as error:
            registry = registry_host(image)
            fix = push_fix(error.stderr, registry, self.program, registry_variable)
            raise CommandFailed(
                f"{self.program} push {image}",
                error.returncode,
                error.stderr,
                hint=f"registry {registry} did not accept {image}: {fix}",
            ) from None

    def pull(self, image: str) -> None:
        self._run(self.pull_argv(image), PUSH_TIMEOUT)

    def untag(self, image: str) -> None:
        self._run(self.untag_argv(image), CHECK_TIMEOUT)

    def kind_load(self, image: str, cluster: str) -> None:
        argv, env = self.kind_load_argv(image, cluster)
        run(*argv, timeout=KIND_LOAD_TIMEOUT, env={**self.environ, **env}, hint="install kind from https://kind.sigs.k8s.io, or push to a registry instead")

    def _run(self, argv: list[str], timeout: float) -> str:
        return run(*argv, timeout=timeout, env=dict(self.environ))

    def _start_hint(self) -> str:
        if self.program == "podman":
            return "start it with 'podman machine start' (macOS, Windows) or 'systemctl --user start podman.socket', or unset CONTAINER_HOST"
        return "start it with 'sudo systemctl start docker' (or run dockerd), or set DOCKER_HOST to a running engine"


def write_build_context(context: Path, base_image: str, files: Sequence[ImageFile]) -> None:
    """Lay ``files`` out under ``context/rootfs`` and write a Dockerfile that copies that tree.

    Symlinks are made in the context rather than with ``RUN ln``, so the base
    image needs no shell and the build runs no container.
    """
    rootfs = context / "rootfs"
    for item in files:
        target = rootfs / item.target.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(item.source, target)
        except OSError:
            shutil.copy2(item.source, target)
        target.chmod(0o755)

        for link in item.links:
            path = rootfs / link.lstrip("/")
            path.parent.mkdir(parents=True, exist_ok=True)
            path.symlink_to(os.path.relpath(item.target, os.path.dirname(link)))

    (context / "Dockerfile").write_text(f"FROM {base_image}\nCOPY rootfs/ /\n")


def registry_host(image: str) -> str:
    """Return the registry host of ``image`` as Docker reads it (docker.io when the first part is no host)."""
    first, _, rest = image.partition("/")
    if rest and ("." in first or ":" in first or first == "localhost"):
        return first
    return "docker.io"


def push_fix(stderr: str, registry: str, program: str, registry_variable: str) -> str:
    """Return what to do about a failed push, from the engine's error text."""
    text = stderr.lower()
    if "server gave http response to https client" in text:
        return f"the registry speaks plain HTTP; add {registry} to insecure-registries in the {program} daemon configuration, or use 127.0.0.1 or localhost"
    if "connection refused" in text or "no such host" in text or "i/o timeout" in text:
        return f"nothing answered at {registry}; start the registry or set {registry_variable} to one that runs"
    if "denied" in text or "unauthorized" in text or "authentication required" in text:
        return f"log in first ({program} login {registry}) with an account that may write there"
    return "see the error above"


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else "no output"
