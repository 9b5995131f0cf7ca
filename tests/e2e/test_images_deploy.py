"""Build and push the hyperkube image, then deploy the federation with it."""

from __future__ import annotations

import pytest

from tests.docker_support import base_image, docker, docker_engine, kube_root, registry, remove_image  # noqa: F401
from tests.e2e.scripts import DEPLOY, DEVELOP, kubectl, run

pytestmark = pytest.mark.docker

DEPLOYMENTS = ("federation-apiserver", "federation-controller-manager")


def test_deploy_uses_pushed_image(clusters, kube_root, registry, base_image, tmp_path):
    output_root = tmp_path / "output"
    env = clusters.env(
        KUBE_ROOT=str(kube_root.path),
        KUBE_REGISTRY=f"{registry}/federation-e2e",
        BASEIMAGE=base_image,
        BUILD_STAMP=kube_root.stamp,
        FEDERATION_OUTPUT_ROOT=str(output_root),
        FEDERATION_HOST_CLUSTER_CONTEXT=clusters.host,
        KUBERNETES_PROVIDER="kind",
        FEDERATION_WAIT_TIMEOUT="120",
    )
    image = f"{registry}/federation-e2e/hyperkube-amd64:{kube_root.tag}"

    initialized = run(DEPLOY, "init", env=env)
    assert initialized.returncode == 0, initialized.explain()
    for action in ("build_binaries", "build_image", "push"):
        result = run(DEVELOP, action, env=env)
        assert result.returncode == 0, result.explain()
    remove_image(image)

    # develop.sh forwards deploy actions to deploy.sh with the same output root.
    deployed = run(DEVELOP, "deploy_federation", env=env)
    assert deployed.returncode == 0, deployed.explain()

    namespace = _values_namespace(output_root / "values.yaml")
    for name in DEPLOYMENTS:
        result = kubectl("--context", clusters.host, "-n", namespace, "get", "deployment", name, "-o", "jsonpath={.spec.template.spec.containers[*].image}", env=env)
        assert result.returncode == 0, result.explain()
        assert image in result.stdout.split(), f"{name} runs {result.stdout!r}, expected {image}"

    pulled = docker("pull", image)
    remove_image(image)
    assert pulled.returncode == 0, pulled.stderr.decode()


def _values_namespace(path) -> str:
    import yaml

    from federation.deploy.chart import defaults

    values = {**defaults(), **(yaml.safe_load(path.read_text()) or {})}
    return values["namespace"]
