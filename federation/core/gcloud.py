"""The Google Cloud SDK settings the image scripts use, read without running gcloud.

The shell scripts ran ``gcloud config list project`` and ``gcloud docker --
push`` whenever the provider was gce or gke. Here the project and account come
from the SDK's own configuration files (and its ``CLOUDSDK_*`` variables), so
nothing runs, and nothing contacts Google, unless the user has configured an
account. gcloud runs only to print an access token for a push to gcr.io.
"""

from __future__ import annotations

import base64
import configparser
import contextlib
import json
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from federation.core.files import atomic_write
from federation.core.programs import run

TOKEN_TIMEOUT = 60.0


@dataclass(frozen=True)
class GcloudConfig:
    """The active gcloud configuration: its account and project, '' when unset."""

    account: str
    project: str
    program: str | None  # path of gcloud on PATH, or None

    @property
    def usable(self) -> bool:
        """Return whether gcloud is installed and has an account to act as."""
        return self.program is not None and bool(self.account)


def load_config(environ: Mapping[str, str]) -> GcloudConfig:
    """Read the active configuration the way gcloud resolves it, without running gcloud."""
    home = Path(environ.get("HOME") or Path.home())
    config_dir = Path(environ.get("CLOUDSDK_CONFIG") or home / ".config" / "gcloud")

    active = environ.get("CLOUDSDK_ACTIVE_CONFIG_NAME", "")
    if not active:
        with contextlib.suppress(OSError, UnicodeDecodeError):
            active = (config_dir / "active_config").read_text(encoding="utf-8").strip()
    properties = configparser.ConfigParser(interpolation=None)
    with contextlib.suppress(OSError, UnicodeDecodeError, configparser.Error):
        properties.read(config_dir / "configurations" / f"config_{active or 'default'}", encoding="utf-8")

    account = environ.get("CLOUDSDK_CORE_ACCOUNT") or properties.get("core", "account", fallback="")
    project = environ.get("CLOUDSDK_CORE_PROJECT") or properties.get("core", "project", fallback="")
    program = shutil.which("gcloud", path=environ.get("PATH"))
    return GcloudConfig(account=account.strip(), project=project.strip(), program=program)


def gcr_repository(project: str) -> str:
    """Return the gcr.io repository of ``project``; a domain-scoped ``example.com:name`` becomes ``gcr.io/example.com/name``."""
    return "gcr.io/" + project.replace(":", "/")


def is_gcr(repository: str) -> bool:
    """Return whether ``repository`` is on Container Registry (gcr.io or a regional *.gcr.io host)."""
    host = repository.split("/", 1)[0]
    return host == "gcr.io" or host.endswith(".gcr.io")


@contextlib.contextmanager
def docker_config_for(repository: str, config: GcloudConfig) -> Iterator[Path]:
    """Yield a temporary Docker client config directory logged in to ``repository``'s host.

    The token comes from ``gcloud auth print-access-token`` and lives only in
    that directory (mode 0600), which is deleted on exit. The user's own
    ``~/.docker/config.json`` is left alone.
    """
    # NOTE: tests never run gcloud, so this login path is checked only by reading.
    host = repository.split("/", 1)[0]
    token = run(config.program or "gcloud", "auth", "print-access-token", timeout=TOKEN_TIMEOUT, hint="run gcloud auth login").strip()
    credentials = base64.b64encode(f"oauth2accesstoken:{token}".encode()).decode()

    with tempfile.TemporaryDirectory(prefix="federation-docker-config-") as directory:
        path = Path(directory)
        path.chmod(0o700)
        atomic_write(path / "config.json", json.dumps({"auths": {host: {"auth": credentials}}}))
        yield path
