"""Inputs that look unusual but are valid: they must work, not be rejected."""

from __future__ import annotations

import yaml

from tests.e2e.scripts import DEPLOY, FEDERATION_UP, run
from tests.reliability.support import kubeconfig_entries
from tests.reliability.test_bad_input import UP_ENV


def test_zone_with_one_trailing_dot_accepted(clusters, tmp_path):
    """The legacy default federation.example. is the absolute form of the zone, so one trailing dot is valid."""
    env = clusters.env(**{**UP_ENV, "FEDERATION_HOST_CLUSTER_CONTEXT": clusters.host, "DNS_ZONE_NAME": "badinput.example."})

    result = run(FEDERATION_UP, "--dry-run", env=env)

    assert result.returncode == 0, result.explain()
    assert "error:" not in result.stderr


def test_kubeconfig_list_merged_like_kubectl(clusters, tmp_path):
    """KUBECONFIG=a:b works: contexts from both files, entries written to the first file only."""
    document = yaml.safe_load(clusters.kubeconfig.read_text())
    host_context = next(item for item in document["contexts"] if item["name"] == clusters.host)
    host_cluster = host_context["context"]["cluster"]
    host_user = host_context["context"]["user"]
    first = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [item for item in document["clusters"] if item["name"] != host_cluster],
        "users": [item for item in document["users"] if item["name"] != host_user],
        "contexts": [item for item in document["contexts"] if item["name"] != clusters.host],
    }
    second = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [item for item in document["clusters"] if item["name"] == host_cluster],
        "users": [item for item in document["users"] if item["name"] == host_user],
        "contexts": [host_context],
        "current-context": clusters.host,
    }
    first_path = tmp_path / "members.yaml"
    second_path = tmp_path / "host.yaml"
    first_path.write_text(yaml.safe_dump(first))
    second_path.write_text(yaml.safe_dump(second))
    second_before = second_path.read_bytes()
    env = clusters.env(KUBECONFIG=f"{first_path}:{second_path}", FEDERATION_OUTPUT_ROOT=str(tmp_path / "output"), FEDERATION_WAIT_TIMEOUT="60")

    for action in ("init", "deploy_federation"):
        result = run(DEPLOY, action, env=env)
        assert result.returncode == 0, result.explain()

    assert kubeconfig_entries(first_path, "federation-cluster") == {"cluster": True, "user": True, "context": True}
    assert second_path.read_bytes() == second_before
