"""Image tags derived from a git checkout, and the versions file."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from federation.core.errors import InvalidInput
from federation.core.versions import dirty_tree_hash, git_version, read_versions_file, semantic_image_tag, write_versions_file


def git(root: Path, *args: str) -> str:
    command = ["git", "-C", str(root), "-c", "user.name=Test", "-c", "user.email=test@example.invalid", "-c", "commit.gpgsign=false", *args]
    return subprocess.run(command, check=True, capture_output=True, text=True).stdout


def commit(root: Path, name: str, content: str) -> str:
    (root / name).write_text(content)
    git(root, "add", name)
    git(root, "commit", "-q", "-m", f"change {name}")
    return git(root, "rev-parse", "HEAD").strip()


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    root = tmp_path / "kubernetes"
    root.mkdir()
    git(root, "init", "-q")
    (root / ".gitignore").write_text("_output/\n")
    git(root, "add", ".gitignore")
    commit(root, "README", "one\n")
    return root


def test_version_on_release_tag(checkout):
    git(checkout, "tag", "v1.4.2")

    assert git_version(checkout) == "v1.4.2"
    assert semantic_image_tag(checkout) == "v1.4.2"


def test_version_after_release_tag(checkout):
    git(checkout, "tag", "v1.4.2")
    head = commit(checkout, "README", "two\n")

    assert git_version(checkout) == f"v1.4.2-1+{head[:14]}"
    assert semantic_image_tag(checkout) == f"v1.4.2-1_{head[:14]}"


def test_version_after_prerelease_tag(checkout):
    git(checkout, "tag", "v1.5.0-alpha.0")
    commit(checkout, "README", "two\n")
    head = commit(checkout, "README", "three\n")

    assert semantic_image_tag(checkout) == f"v1.5.0-alpha.0.2_{head[:14]}"


def test_version_ignores_untagged_names(checkout):
    git(checkout, "tag", "v1.4.2")
    git(checkout, "tag", "release-candidate")

    assert git_version(checkout) == "v1.4.2"


def test_dirty_tag_has_tree_hash(checkout):
    git(checkout, "tag", "v1.4.2")
    (checkout / "README").write_text("edited\n")

    tag = semantic_image_tag(checkout)

    assert re.fullmatch(r"v1\.4\.2-dirty\.[0-9a-f]{40}", tag), tag


def test_dirty_hash_stable_for_same_content(checkout):
    (checkout / "README").write_text("edited\n")
    (checkout / "new-file").write_text("untracked\n")

    first = dirty_tree_hash(checkout)
    second = dirty_tree_hash(checkout)

    assert first == second


def test_dirty_hash_changes_with_content(checkout):
    (checkout / "README").write_text("edited\n")
    first = dirty_tree_hash(checkout)

    (checkout / "README").write_text("edited again\n")
    second = dirty_tree_hash(checkout)

    assert first != second


def test_dirty_hash_counts_untracked_and_deleted(checkout):
    clean = dirty_tree_hash(checkout)

    (checkout / "new-file").write_text("untracked\n")
    untracked = dirty_tree_hash(checkout)
    (checkout / "new-file").unlink()
    (checkout / "README").unlink()
    deleted = dirty_tree_hash(checkout)

    assert untracked != clean
    assert deleted != clean
    assert deleted != untracked


def test_dirty_hash_ignores_build_output(checkout):
    git(checkout, "tag", "v1.4.2")
    clean = dirty_tree_hash(checkout)

    (checkout / "_output").mkdir()
    (checkout / "_output" / "hyperkube").write_text("binary\n")

    assert dirty_tree_hash(checkout) == clean
    assert not git_version(checkout).endswith("-dirty")


def test_dirty_hash_leaves_repository_alone(checkout):
    (checkout / "new-file").write_text("untracked\n")
    status_before = git(checkout, "status", "--porcelain")
    objects_before = sorted(path.name for path in (checkout / ".git" / "objects").iterdir())

    dirty_tree_hash(checkout)

    assert git(checkout, "status", "--porcelain") == status_before
    assert sorted(path.name for path in (checkout / ".git" / "objects").iterdir()) == objects_before


def test_version_without_tag_names_kube_root(checkout):
    with pytest.raises(InvalidInput) as raised:
        git_version(checkout)

    assert "KUBE_ROOT" in raised.value.message
    assert str(checkout) in raised.value.message
    assert "KUBE_VERSION" in raised.value.hint


def test_version_outside_git_names_kube_root(tmp_path):
    with pytest.raises(InvalidInput) as raised:
        git_version(tmp_path)

    assert str(tmp_path) in raised.value.message


def test_versions_file_round_trip(tmp_path):
    path = tmp_path / "federation" / "versions"

    write_versions_file(path, "v1.4.2_abc")

    assert json.loads(path.read_text()) == {"KUBE_VERSION": "v1.4.2_abc"}
    assert read_versions_file(path) == "v1.4.2_abc"


@pytest.mark.parametrize("content", ["", "[]", '{"KUBE_VERSION": 3}', "{not json"])
def test_versions_file_rejects_bad_content(tmp_path, content):
    path = tmp_path / "versions"
    path.write_text(content)

    with pytest.raises(InvalidInput) as raised:
        read_versions_file(path)

    assert str(path) in raised.value.message


def test_versions_file_missing_names_fix(tmp_path):
    with pytest.raises(InvalidInput) as raised:
        read_versions_file(tmp_path / "versions")

    assert "build_image" in raised.value.hint
