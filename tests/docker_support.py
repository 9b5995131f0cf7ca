"""Fixtures for tests that use a real Docker engine and a real registry on 127.0.0.1.

When the engine or the registry is missing, the tests skip with the reason on
a developer machine and fail when ``CI=true``, so CI never passes by skipping.
``.ci/services.sh`` installs and starts both. Import the fixtures into a test
module (``from tests.docker_support import ...``) to use them.
"""

from __future__ import annotations

import io
import os
import shutil
import socket
import subprocess
import tarfile
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

FIXTURE_KUBE_ROOT = Path(__file__).resolve().parent / "fixtures" / "kube_root"
BASE_IMAGE = "federation-test/base:busybox"
BUSYBOX = Path("/bin/busybox")
DEFAULT_REGISTRY = "127.0.0.1:5000"


def unavailable(reason: str) -> None:
    """Skip with ``reason``, or fail with it when ``CI=true``."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{reason} (CI=true, so this fails instead of skipping; .ci/services.sh starts it)", pytrace=False)
    pytest.skip(reason)


def docker(*args: str, input: bytes | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(["docker", *args], input=input, capture_output=True, timeout=timeout)


@pytest.fixture(scope="session")
def docker_engine() -> str:
    """Return the server version of a reachable Docker engine."""
    if shutil.which("docker") is None:
        unavailable("docker CLI not found on PATH")
    completed = docker("version", "--format", "{{.Server.Version}}", timeout=30)
    if completed.returncode != 0:
        unavailable(f"Docker engine not reachable: {completed.stderr.decode(errors='replace').strip()}")
    return completed.stdout.decode().strip()


def _registry_responds(address: str) -> bool:
    try:
        with urllib.request.urlopen(f"http://{address}/v2/", timeout=5) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="session")
def registry(tmp_path_factory) -> Iterator[str]:
    """Return ``host:port`` of a registry on loopback.

    Uses ``FEDERATION_TEST_REGISTRY`` or 127.0.0.1:5000 when a registry responds there,
    else starts Debian's docker-registry on a free loopback port for the session.
    Docker treats every 127.0.0.0/8 registry as insecure, so plain HTTP works.
    """
    address = os.environ.get("FEDERATION_TEST_REGISTRY", DEFAULT_REGISTRY)
    if _registry_responds(address):
        yield address
        return

    program = shutil.which("docker-registry")
    if program is None:
        unavailable(f"no registry responds at http://{address}/v2/ and docker-registry is not installed")

    directory = tmp_path_factory.mktemp("registry")
    address = f"127.0.0.1:{_free_port()}"
    config = directory / "config.yml"
    config.write_text(f"version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: {directory / 'storage'}\nhttp:\n  addr: {address}\n")
    log = (directory / "registry.log").open("wb")
    process = subprocess.Popen([program, "serve", str(config)], stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while not _registry_responds(address):
            if process.poll() is not None or time.monotonic() > deadline:
                unavailable(f"docker-registry did not start on {address}; see {directory / 'registry.log'}")
            time.sleep(0.2)
        yield address
    finally:
        process.terminate()
        process.wait(timeout=10)
        log.close()


def _busybox_rootfs() -> bytes:
    """Return a tar of a root file system with a static busybox as /bin/busybox and /bin/sh."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for name in ("bin", "usr", "usr/local", "usr/local/bin", "tmp"):
            entry = tarfile.TarInfo(name)
            entry.type = tarfile.DIRTYPE
            entry.mode = 0o1777 if name == "tmp" else 0o755
            archive.addfile(entry)
        archive.add(BUSYBOX, arcname="bin/busybox")
        link = tarfile.TarInfo("bin/sh")
        link.type = tarfile.SYMTYPE
        link.linkname = "busybox"
        archive.addfile(link)
    return buffer.getvalue()


@pytest.fixture(scope="session")
def base_image(docker_engine: str) -> str:
    """Return a local base image made by ``docker import`` of busybox-static, so no pull is needed."""
    if docker("image", "inspect", BASE_IMAGE, timeout=30).returncode == 0:
        return BASE_IMAGE
    if not BUSYBOX.is_file():
        unavailable(f"{BUSYBOX} not found; install Debian's busybox-static")

    completed = docker("import", "-", BASE_IMAGE, input=_busybox_rootfs())
    assert completed.returncode == 0, completed.stderr.decode(errors="replace")
    return BASE_IMAGE


def git(root: Path, *args: str) -> str:
    command = ["git", "-C", str(root), "-c", "user.name=Test", "-c", "user.email=test@example.invalid", "-c", "commit.gpgsign=false", *args]
    return subprocess.run(command, check=True, capture_output=True, text=True).stdout


@dataclass
class KubeRoot:
    """A copy of the fixture source tree, committed and tagged."""

    path: Path
    tag: str
    stamp: str  # BUILD_STAMP the binaries embed, unique per test

    @property
    def hyperkube(self) -> Path:
        return self.path / "_output" / "local" / "bin" / "linux" / "amd64" / "hyperkube"


@pytest.fixture
def kube_root(tmp_path: Path) -> KubeRoot:
    """Copy tests/fixtures/kube_root, git init it, commit and tag v1.5.0-alpha.0."""
    root = tmp_path / "kubernetes"
    shutil.copytree(FIXTURE_KUBE_ROOT, root, ignore=shutil.ignore_patterns("_output"))
    git(root, "init", "-q")
    git(root, "add", "--all")
    git(root, "commit", "-q", "-m", "fixture")
    git(root, "tag", "v1.5.0-alpha.0")
    return KubeRoot(root, "v1.5.0-alpha.0", uuid.uuid4().hex[:12])


def remove_image(image: str) -> None:
    docker("rmi", "--force", image, timeout=60)


def run_in_image(image: str, *command: str) -> subprocess.CompletedProcess:
    return docker("run", "--rm", "--network=none", image, *command, timeout=120)
