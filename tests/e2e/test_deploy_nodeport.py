"""deploy.sh on a host cluster without load-balancer support, as on kind."""

from __future__ import annotations

import pytest
import yaml

from tests.e2e.scripts import DEPLOY, kubectl, run


@pytest.fixture
def cluster_options():
    return {"load_balancer": False}


@pytest.fixture
def env(clusters, tmp_path):
    return clusters.env(FEDERATION_OUTPUT_ROOT=str(tmp_path / "out"), FEDERATION_HOST_CLUSTER_CONTEXT=clusters.host)


def test_kind_provider_uses_node_port(clusters, env):
    env = {**env, "KUBERNETES_PROVIDER": "kind"}
    assert run(DEPLOY, "init", env=env).returncode == 0

    result = run(DEPLOY, "deploy_federation", env=env)

    assert result.returncode == 0, result.explain()
    service = clusters.cluster(clusters.host).get_object("v1", "Service", "federation-apiserver", "federation")
    assert service["spec"]["type"] == "NodePort"
    node_port = service["spec"]["ports"][0]["nodePort"]
    document = yaml.safe_load(clusters.kubeconfig.read_text())
    server = next(item for item in document["clusters"] if item["name"] == "federation-cluster")["cluster"]["server"]
    assert server.endswith(f":{node_port}")
    answer = kubectl("--context=federation-cluster", "get", "clusters", env=env)
    assert answer.returncode == 0, answer.explain()


def test_load_balancer_wait_names_node_port(clusters, env):
    env = {**env, "KUBERNETES_PROVIDER": "gce", "FEDERATION_WAIT_TIMEOUT": "2"}
    assert run(DEPLOY, "init", env=env).returncode == 0

    result = run(DEPLOY, "deploy_federation", env=env)

    assert result.returncode == 5, result.explain()
    assert "NodePort" in result.stderr
    assert "no load-balancer controller" in result.stderr
