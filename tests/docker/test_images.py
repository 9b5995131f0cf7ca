"""develop.sh and push-federation-images.sh against a real Docker engine and registry."""

from __future__ import annotations

import json
import os
import socket
import stat
from pathlib import Path

import pytest
import yaml

from tests.docker_support import base_image, docker, docker_engine, kube_root, registry, remove_image, run_in_image  # noqa: F401
from tests.e2e.scripts import DEVELOP, PUSH_IMAGES, run

pytestmark = pytest.mark.docker

USER_VALUES = """\
# My federation overrides.
namespace: "my-federation"  # keep me
apiserverVersion: v1.4.2
controllerManagerDNSZone: "example.org."
"""


def closed_loopback_address() -> str:
    """Return 127.0.0.1:<port> where nothing listens."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"127.0.0.1:{probe.getsockname()[1]}"


def develop_env(kube_root, registry: str, base_image: str, output_root: Path, **extra: str) -> dict[str, str]:
    return {
        "KUBE_ROOT": str(kube_root.path),
        "KUBE_REGISTRY": f"{registry}/federation-test",
        "KUBERNETES_PROVIDER": "kind",
        "BASEIMAGE": base_image,
        "FEDERATION_OUTPUT_ROOT": str(output_root),
        "BUILD_STAMP": kube_root.stamp,
        **extra,
    }


def test_develop_build_push_and_run(kube_root, registry, base_image, tmp_path):
    output_root = tmp_path / "federation"
    output_root.mkdir()
    (output_root / "values.yaml").write_text(USER_VALUES)
    (output_root / "config.json").write_text('[{"phase1": {"cluster_name": "mine"}}]\n')
    env = develop_env(kube_root, registry, base_image, output_root)
    image = f"{registry}/federation-test/hyperkube-amd64:{kube_root.tag}"

    built = run(DEVELOP, "build_binaries", env=env)
    assert built.returncode == 0, built.explain()
    assert kube_root.hyperkube.is_file()

    imaged = run(DEVELOP, "build_image", env=env)
    assert imaged.returncode == 0, imaged.explain()
    assert json.loads((output_root / "versions").read_text()) == {"KUBE_VERSION": kube_root.tag}

    pushed = run(DEVELOP, "push", env=env)
    assert pushed.returncode == 0, pushed.explain()

    # The registry, not the local store, must hold the image the binary runs from.
    remove_image(image)
    pulled = docker("pull", image)
    assert pulled.returncode == 0, pulled.stderr.decode()
    ran = run_in_image(image, "/hyperkube", "--version")
    remove_image(image)
    assert ran.returncode == 0, ran.stderr.decode()
    assert ran.stdout.decode().strip() == f"hyperkube {kube_root.tag} build {kube_root.stamp}"

    values_text = (output_root / "values.yaml").read_text()
    values = yaml.safe_load(values_text)
    assert values["apiserverRegistry"] == f"{registry}/federation-test"
    assert values["apiserverVersion"] == kube_root.tag
    assert values["controllerManagerRegistry"] == f"{registry}/federation-test"
    assert values["controllerManagerVersion"] == kube_root.tag
    assert values["controllerManagerDNSZone"] == "example.org."
    assert '# My federation overrides.\nnamespace: "my-federation"  # keep me\n' in values_text
    assert stat.S_IMODE((output_root / "values.yaml").stat().st_mode) == 0o600
    assert (output_root / "config.json").read_text() == '[{"phase1": {"cluster_name": "mine"}}]\n'


def test_develop_dirty_tree_tag(kube_root, registry, base_image, tmp_path):
    env = develop_env(kube_root, registry, base_image, tmp_path / "federation")
    assert run(DEVELOP, "build_binaries", env=env).returncode == 0
    (kube_root.path / "README").write_text("changed after the tag\n")

    imaged = run(DEVELOP, "build_image", env=env)
    assert imaged.returncode == 0, imaged.explain()

    version = json.loads((tmp_path / "federation" / "versions").read_text())["KUBE_VERSION"]
    image = f"{registry}/federation-test/hyperkube-amd64:{version}"
    exists = docker("image", "inspect", image)
    remove_image(image)
    assert version.startswith(f"{kube_root.tag}-dirty.")
    assert len(version.rsplit(".", 1)[1]) == 40
    assert exists.returncode == 0, exists.stderr.decode()


def test_push_images_script(kube_root, registry, base_image, tmp_path):
    tag_file = tmp_path / "manifests" / "federated-image.tag"
    env = {
        "KUBE_ROOT": str(kube_root.path),
        "FEDERATION": "true",
        "FEDERATION_PUSH_REPO_BASE": f"{registry}/federation-push",
        "FEDERATION_IMAGE_TAG_FILE": str(tag_file),
        "KUBERNETES_PROVIDER": "kind",
        "BASEIMAGE": base_image,
        "BUILD_STAMP": kube_root.stamp,
    }
    image = f"{registry}/federation-push/hyperkube:{kube_root.tag}"
    assert run(DEVELOP, "build_binaries", env=env).returncode == 0

    pushed = run(PUSH_IMAGES, env=env)
    assert pushed.returncode == 0, pushed.explain()
    assert tag_file.read_text() == f"{kube_root.tag}\n"
    assert f"Removed the local tag {image}" in pushed.stderr
    assert docker("image", "inspect", image).returncode != 0

    pulled = docker("pull", image)
    assert pulled.returncode == 0, pulled.stderr.decode()
    at_usr_local = run_in_image(image, "/usr/local/bin/hyperkube")
    at_root = run_in_image(image, "/hyperkube")
    remove_image(image)
    assert at_usr_local.stdout.decode().strip() == f"hyperkube {kube_root.tag} build {kube_root.stamp}"
    assert at_root.stdout.decode().strip() == f"hyperkube {kube_root.tag} build {kube_root.stamp}"


def test_push_kind_clusters(kube_root, registry, base_image, tmp_path):
    calls = tmp_path / "kind-calls"
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "kind").write_text(f'#!/bin/sh\necho "$@" >> {calls}\n')
    (bin_dir / "kind").chmod(0o755)
    env = develop_env(kube_root, registry, base_image, tmp_path / "federation", KIND_CLUSTERS="one")
    image = f"{registry}/federation-test/hyperkube-amd64:{kube_root.tag}"
    assert run(DEVELOP, "build_binaries", env=env).returncode == 0
    assert run(DEVELOP, "build_image", env=env).returncode == 0

    env["PATH"] = f"{bin_dir}{os.pathsep}{os.environ['PATH']}"
    loaded = run(DEVELOP, "push", "--kind-cluster", "member1", "--kind-cluster", "member2", env=env)
    remove_image(image)

    assert loaded.returncode == 0, loaded.explain()
    assert calls.read_text().splitlines() == [
        f"load docker-image --name member1 {image}",
        f"load docker-image --name member2 {image}",
    ]
    assert yaml.safe_load((tmp_path / "federation" / "values.yaml").read_text())["apiserverVersion"] == kube_root.tag


def test_push_rejected_names_registry(kube_root, registry, base_image, tmp_path):
    closed = closed_loopback_address()
    env = develop_env(kube_root, registry, base_image, tmp_path / "federation", KUBE_REGISTRY=f"{closed}/federation-test")
    image = f"{closed}/federation-test/hyperkube-amd64:{kube_root.tag}"
    assert run(DEVELOP, "build_binaries", env=env).returncode == 0
    assert run(DEVELOP, "build_image", env=env).returncode == 0

    rejected = run(DEVELOP, "push", env=env)
    remove_image(image)

    assert rejected.returncode == 1, rejected.explain()
    assert f"registry {closed} did not accept {image}" in rejected.stderr
    assert "Traceback" not in rejected.stderr
    assert not (tmp_path / "federation" / "values.yaml").exists()


def test_engine_down_names_socket(kube_root, registry, base_image, tmp_path):
    env = develop_env(kube_root, registry, base_image, tmp_path / "federation", DOCKER_HOST=f"unix://{tmp_path}/no-docker.sock")
    assert run(DEVELOP, "build_binaries", env=env).returncode == 0

    down = run(DEVELOP, "build_image", env=env)

    assert down.returncode == 4, down.explain()
    assert f"docker cannot reach its daemon at unix://{tmp_path}/no-docker.sock" in down.stderr
    assert "start it with" in down.stderr
    assert not (tmp_path / "federation" / "versions").exists()


def push_images_env(kube_root, repo_base: str, base_image: str, tag_file: Path) -> dict[str, str]:
    return {
        "KUBE_ROOT": str(kube_root.path),
        "FEDERATION": "true",
        "FEDERATION_PUSH_REPO_BASE": repo_base,
        "FEDERATION_IMAGE_TAG_FILE": str(tag_file),
        "KUBERNETES_PROVIDER": "kind",
        "BASEIMAGE": base_image,
        "BUILD_STAMP": kube_root.stamp,
    }


def test_push_images_rejected_removes_tag(kube_root, registry, base_image, tmp_path):
    closed = closed_loopback_address()
    tag_file = tmp_path / "manifests" / "federated-image.tag"
    env = push_images_env(kube_root, f"{closed}/federation-push", base_image, tag_file)
    image = f"{closed}/federation-push/hyperkube:{kube_root.tag}"
    assert run(DEVELOP, "build_binaries", env=env).returncode == 0

    rejected = run(PUSH_IMAGES, env=env)
    left_behind = docker("image", "inspect", image)
    remove_image(image)

    assert rejected.returncode == 1, rejected.explain()
    assert f"registry {closed} did not accept {image}" in rejected.stderr
    assert "set FEDERATION_PUSH_REPO_BASE to one that runs" in rejected.stderr
    assert "KUBE_REGISTRY" not in rejected.stderr
    assert f"Removed the local tag {image}" in rejected.stderr
    assert left_behind.returncode != 0, f"{image} is still tagged locally"
    assert not tag_file.exists()


# The missing base images below name a registry on a closed loopback port, so
# even if the scripts reached docker build, its pull attempt would stay on this machine.


def test_missing_base_image_fails_clearly(kube_root, registry, docker_engine, tmp_path):
    missing_base = f"{closed_loopback_address()}/no-such-base:none"
    env = develop_env(kube_root, registry, missing_base, tmp_path / "federation")
    assert run(DEVELOP, "build_binaries", env=env).returncode == 0

    failed = run(DEVELOP, "build_image", env=env)

    assert failed.returncode == 4, failed.explain()
    assert f"BASEIMAGE='{missing_base}' not found among the local images of docker" in failed.stderr
    assert f"docker pull {missing_base}" in failed.stderr
    assert "--pull" in failed.stderr
    assert "docker build" not in failed.stderr
    assert not (tmp_path / "federation" / "versions").exists()


def test_push_images_missing_base_image(kube_root, registry, docker_engine, tmp_path):
    missing_base = f"{closed_loopback_address()}/no-such-base:none"
    tag_file = tmp_path / "manifests" / "federated-image.tag"
    env = push_images_env(kube_root, f"{registry}/federation-push", missing_base, tag_file)
    image = f"{registry}/federation-push/hyperkube:{kube_root.tag}"
    assert run(DEVELOP, "build_binaries", env=env).returncode == 0

    failed = run(PUSH_IMAGES, env=env)
    built = docker("image", "inspect", image)
    remove_image(image)

    assert failed.returncode == 4, failed.explain()
    assert f"BASEIMAGE='{missing_base}' not found among the local images of docker" in failed.stderr
    assert f"docker pull {missing_base}" in failed.stderr
    assert "--pull" in failed.stderr
    assert built.returncode != 0, f"{image} was built"
    assert not tag_file.exists()
