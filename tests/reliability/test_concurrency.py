"""Two runs on the same FEDERATION_OUTPUT_ROOT or kubeconfig never interleave: the second is rejected with exit 6."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

import yaml

from tests.e2e.scripts import DEPLOY, FEDERATION_DOWN, FEDERATION_UP, run
from tests.e2e.test_federation_up import DOCS_ENV, store_member_kubeconfigs

LOCKED = 6


class Background:
    """A script run in the background whose stderr lines are collected as they arrive."""

    def __init__(self, script, *args, env: dict[str, str]) -> None:
        base = {"PATH": f"{os.path.dirname(sys.executable)}{os.pathsep}{os.environ.get('PATH', '')}", "FEDERATION_PYTHON": sys.executable, "LANG": "C.UTF-8", "NO_COLOR": "1"}
        self.process = subprocess.Popen([str(script), *args], env={**base, **env}, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for line in self.process.stderr:
            self.lines.append(line)

    def wait_for_line(self, fragment: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(fragment in line for line in self.lines):
                return
            if self.process.poll() is not None:
                break
            time.sleep(0.01)
        raise AssertionError(f"no line with {fragment!r} within {timeout}s; stderr so far:\n{''.join(self.lines)}")

    def signal(self, number: int) -> None:
        self.process.send_signal(number)

    def finish(self, timeout: float = 120) -> tuple[int, str]:
        self.process.wait(timeout=timeout)
        self._reader.join(timeout=5)
        return self.process.returncode, "".join(self.lines)


def test_second_deploy_on_same_output_root_rejected(clusters, tmp_path):
    env = clusters.env(FEDERATION_OUTPUT_ROOT=str(tmp_path / "output"), FEDERATION_HOST_CLUSTER_CONTEXT=clusters.host, FEDERATION_WAIT_TIMEOUT="60")
    assert run(DEPLOY, "init", env=env).returncode == 0
    host = clusters.cluster(clusters.host)
    host.faults.latency(0.2)
    first = Background(DEPLOY, "deploy_federation", env=env)
    first.wait_for_line("• [service]")

    second = run(DEPLOY, "deploy_federation", env=env)
    host.faults.clear()
    first_code, first_output = first.finish()

    assert second.returncode == LOCKED, second.explain()
    assert f"another run (pid {first.process.pid}) is using FEDERATION_OUTPUT_ROOT" in second.stderr
    assert first_code == 0, first_output


def test_second_federation_up_on_same_kubeconfig_rejected(clusters):
    store_member_kubeconfigs(clusters)
    env = clusters.env(**DOCS_ENV)
    host = clusters.cluster(clusters.host)
    host.faults.latency(0.2)
    first = Background(FEDERATION_UP, env=env)
    first.wait_for_line("• [service]")

    second = run(FEDERATION_UP, env=env)
    down = run(FEDERATION_DOWN, env=env)
    host.faults.clear()
    first_code, first_output = first.finish()

    assert second.returncode == LOCKED, second.explain()
    assert "is using the kubeconfig with federation-up.sh or federation-down.sh" in second.stderr
    assert down.returncode == LOCKED, down.explain()
    assert first_code == 0, first_output


def test_kubeconfig_edits_wait_for_each_other(clusters, tmp_path):
    """deploy.sh and federation-up.sh on different roots but one kubeconfig both keep their entries."""
    store_member_kubeconfigs(clusters)
    deploy_env = clusters.env(FEDERATION_OUTPUT_ROOT=str(tmp_path / "output"), FEDERATION_HOST_CLUSTER_CONTEXT=clusters.host, FEDERATION_WAIT_TIMEOUT="60", FEDERATION_KUBE_CONTEXT="deployed-federation")
    values = tmp_path / "output" / "values.yaml"
    assert run(DEPLOY, "init", env=deploy_env).returncode == 0
    values.write_text("namespace: deployed\ncontrollerManagerFederationName: deployed\n")
    up_env = clusters.env(**DOCS_ENV, FEDERATION_KUBE_CONTEXT="up-federation")

    first = Background(DEPLOY, "deploy_federation", env=deploy_env)
    second = Background(FEDERATION_UP, env=up_env)
    codes = [first.finish(), second.finish()]

    for code, output in codes:
        assert code == 0, output
    contexts = [item["name"] for item in yaml.safe_load(clusters.kubeconfig.read_text())["contexts"]]
    assert "deployed-federation" in contexts
    assert "up-federation" in contexts
