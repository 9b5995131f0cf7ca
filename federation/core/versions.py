"""Image tags derived from a Kubernetes source tree, and the ``versions`` file.

The tag is Kubernetes' semantic image tag version: the ``GitVersion`` that
``hack/lib/version.sh`` computes (``git describe --tags --match='v*'
--abbrev=14`` turned into semver), with ``+`` replaced by ``_``. When the
tree has uncommitted changes, ``-dirty`` is followed by ``.`` and the hash of
the tree as it is on disk. The shell scripts read the same ``GitVersion`` back
from the freshly built kubectl. Reading it from git gives the same value
without running the binary.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from pathlib import Path

from federation.core.errors import CommandFailed, InvalidInput
from federation.core.files import atomic_write
from federation.core.programs import run

GIT_TIMEOUT = 120.0

# "v1.5.0-alpha.0-1010-g892a6d7af59c0b" (distance to a pre-release tag) and
# "v1.5.0-3-g892a6d7af59c0b" (distance to a release tag).
_PRERELEASE_DISTANCE = re.compile(r"-([0-9]+)-g([0-9a-f]{14})$")
_RELEASE_DISTANCE = re.compile(r"-g([0-9a-f]{14})$")


def semantic_image_tag(kube_root: Path) -> str:
    """Return the image tag for the source tree at ``kube_root``, such as ``v1.5.0-alpha.0.1010_892a6d7af59c0b``."""
    version = git_version(kube_root)
    tag = version.replace("+", "_")
    if tag.endswith("-dirty"):
        tag += "." + dirty_tree_hash(kube_root)
    return tag


def git_version(kube_root: Path) -> str:
    """Return ``GitVersion`` as Kubernetes' ``hack/lib/version.sh`` computes it."""
    described = _git(kube_root, "describe", "--tags", "--match=v*", "--abbrev=14", "HEAD^{commit}", purpose="find a version tag").strip()

    dashes = described.count("-")
    if dashes == 3:
        described = _PRERELEASE_DISTANCE.sub(r".\1+\2", described)
    elif dashes == 2:
        described = _RELEASE_DISTANCE.sub(r"+\1", described)

    if _git(kube_root, "status", "--porcelain", purpose="check for uncommitted changes").strip():
        described += "-dirty"
    return described


def dirty_tree_hash(kube_root: Path) -> str:
    """Return the git tree hash of the working tree, including modified, untracked and deleted files.

    The shell scripts computed it the same way: copy the index, ``git add``
    every change into the copy and ``git write-tree``, writing new objects
    into a temporary object directory that borrows the real objects as an
    alternate. The repository's own index and objects are never touched.
    """
    index = Path(_git(kube_root, "rev-parse", "--path-format=absolute", "--git-path", "index", purpose="find the index").strip())
    objects = Path(_git(kube_root, "rev-parse", "--path-format=absolute", "--git-path", "objects", purpose="find the object store").strip())

    with tempfile.TemporaryDirectory(prefix="federation-dirty-tree-") as temporary:
        temporary_index = Path(temporary) / "index"
        temporary_objects = Path(temporary) / "objects"
        (temporary_objects / "info").mkdir(parents=True)
        (temporary_objects / "info" / "alternates").write_text(f"{objects}\n")
        if index.exists():
            shutil.copyfile(index, temporary_index)

        env = {"GIT_INDEX_FILE": str(temporary_index), "GIT_OBJECT_DIRECTORY": str(temporary_objects)}
        _git(kube_root, "add", "--all", ".", purpose="hash the uncommitted changes", env=env)
        return _git(kube_root, "write-tree", purpose="hash the uncommitted changes", env=env).strip()


def write_versions_file(path: Path, version: str) -> None:
    """Write ``{"KUBE_VERSION": "<version>"}`` to ``path`` atomically, as ``develop.sh build_image`` did."""
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, json.dumps({"KUBE_VERSION": version}, indent=2) + "\n", mode=0o644)


def read_versions_file(path: Path) -> str:
    """Return ``KUBE_VERSION`` from a ``versions`` file written by ``build_image``."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InvalidInput(
            f"versions file {path} not found, so the image version is unknown",
            hint="run develop.sh build_image first, or set KUBE_VERSION",
        ) from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise InvalidInput(f"cannot read versions file {path}: {error}", hint="run develop.sh build_image again, or set KUBE_VERSION") from None

    version = document.get("KUBE_VERSION") if isinstance(document, dict) else None
    if not isinstance(version, str) or not version:
        raise InvalidInput(f"versions file {path} has no KUBE_VERSION string", hint="run develop.sh build_image again, or set KUBE_VERSION")
    return version


def _git(kube_root: Path, *args: str, purpose: str, env: dict[str, str] | None = None) -> str:
    try:
        return run("git", "-C", os.fspath(kube_root), *args, timeout=GIT_TIMEOUT, env=env)
    except CommandFailed as error:
        raise InvalidInput(
            f"KUBE_ROOT={str(kube_root)!r}: git failed to {purpose}: {error.stderr.strip() or error.message}",
            hint="point KUBE_ROOT at a Kubernetes git checkout with a v* tag, or set KUBE_VERSION to the image tag",
        ) from None
