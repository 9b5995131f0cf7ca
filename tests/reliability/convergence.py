"""The final state a run converges to, comparable between two separate simulations."""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml

from tests.e2e.conftest import _simulated
from tests.e2e.scripts import DEPLOY, FEDERATION_UP, kubectl, run
from tests.e2e.test_federation_up import DOCS_ENV, store_member_kubeconfigs
from tests.reliability.support import owned_state

# Each scenario: the federation name, how to reach the final state from fresh clusters, and its kubeconfig context.
SCENARIOS = ("deploy", "up", "join")


def scenario_env(clusters, scenario: str, tmp_path: Path) -> dict[str, str]:
    if scenario == "up":
        return clusters.env(**DOCS_ENV)
    return clusters.env(FEDERATION_OUTPUT_ROOT=str(tmp_path / "output"), FEDERATION_HOST_CLUSTER_CONTEXT=clusters.host, FEDERATION_CLUSTERS=",".join(clusters.members), FEDERATION_WAIT_TIMEOUT="60")


def prepare(clusters, scenario: str, env: dict[str, str]) -> None:
    """Do what precedes the step under test: init (and deploy, for join), or store the member kubeconfigs."""
    if scenario == "up":
        store_member_kubeconfigs(clusters)
        return
    for action in ("init", "deploy_federation") if scenario == "join" else ("init",):
        result = run(DEPLOY, action, env=env)
        assert result.returncode == 0, result.explain()


def step(scenario: str) -> tuple:
    """Return the script and arguments of the step under test."""
    return {"deploy": (DEPLOY, "deploy_federation"), "up": (FEDERATION_UP,), "join": (DEPLOY, "join_clusters")}[scenario]


def federation_name(scenario: str) -> str:
    return "myfederation" if scenario == "up" else "federation"


def final_state(clusters, scenario: str, env: dict[str, str]) -> dict:
    """Return the owned objects of every cluster, the kubeconfig entry names and the registered Clusters."""
    name = federation_name(scenario)
    state = {"objects": _portable({cluster.name: owned_state(cluster, name) for cluster in clusters.sim}, clusters)}
    document = yaml.safe_load(clusters.kubeconfig.read_text())
    state["kubeconfig"] = {section: sorted(item["name"] for item in document.get(section) or []) for section in ("clusters", "users", "contexts")}
    state["current-context"] = document.get("current-context")
    listed = kubectl("--context=federation-cluster", "get", "clusters", "-o", "json", env=env)
    assert listed.returncode == 0, listed.explain()
    state["registered"] = sorted(item["metadata"]["name"] for item in json.loads(listed.stdout)["items"])
    return state


def clean_state(tmp_path: Path, scenario: str) -> dict:
    """Run the scenario once without faults on fresh clusters, and return the state it reaches."""
    for clusters in _simulated(tmp_path, load_balancer=True, member_dns=("coredns", "kube-dns"), require_token=True):
        env = scenario_env(clusters, scenario, tmp_path)
        prepare(clusters, scenario, env)
        result = run(*step(scenario), env=env)
        assert result.returncode == 0, result.explain()
        return final_state(clusters, scenario, env)
    raise AssertionError("no simulated clusters")


def _portable(state: dict, clusters) -> dict:
    """Replace the simulation's random ports and paths so two simulations compare equal."""
    text = json.dumps(state, sort_keys=True)
    for cluster in clusters.sim:
        text = text.replace(cluster.url, f"https://{cluster.name}")
    text = text.replace(str(clusters.kubeconfig.parent.parent), "<tmp>")
    for address in _load_balancer_addresses(clusters):
        text = re.sub(rf"\b{re.escape(address)}\b", "<load-balancer>", text)
    return json.loads(text)


def _load_balancer_addresses(clusters) -> set[str]:
    """Return the loopback addresses kubesim gave LoadBalancer Services, which differ between simulations."""
    found = set()
    for cluster in clusters.sim:
        for service in cluster.objects("v1", "Service"):
            for ingress in ((service.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []:
                if ingress.get("ip"):
                    found.add(ingress["ip"])
    return found


def differences(actual, expected, path: str = "") -> list[str]:
    """Return the paths where ``actual`` and ``expected`` differ, with both values, for a readable failure."""
    if isinstance(actual, dict) and isinstance(expected, dict):
        found = []
        for key in sorted(set(actual) | set(expected), key=str):
            if key not in actual:
                found.append(f"{path}/{key}: missing")
            elif key not in expected:
                found.append(f"{path}/{key}: unexpected")
            else:
                found.extend(differences(actual[key], expected[key], f"{path}/{key}"))
        return found
    if actual != expected:
        return [f"{path}: {str(actual)[:200]!r} != {str(expected)[:200]!r}"]
    return []
