"""Running the legacy script paths as a user would: a subprocess with an environment."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "federation/deploy/deploy.sh"
DEVELOP = ROOT / "federation/develop/develop.sh"
KUBEFED = ROOT / "federation/develop/kubefed.sh"
FEDERATION_UP = ROOT / "federation/cluster/federation-up.sh"
FEDERATION_DOWN = ROOT / "federation/cluster/federation-down.sh"
PUSH_IMAGES = ROOT / "build/push-federation-images.sh"


@dataclass
class Result:
    args: list[str]
    returncode: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr

    def explain(self) -> str:
        return f"command {self.args} exited {self.returncode}\n--- stdout\n{self.stdout}\n--- stderr\n{self.stderr}"


def run(script: Path, *args: str, env: dict[str, str], timeout: float = 240, cwd: Path | None = None) -> Result:
    """Run ``script`` with exactly ``env`` on top of a minimal base (PATH, HOME), never the developer's kubeconfig."""
    base = {
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "HOME": env.get("HOME", os.environ.get("HOME", "/root")),
        "FEDERATION_PYTHON": sys.executable,
        "LANG": "C.UTF-8",
        "NO_COLOR": "1",
    }
    argv = [str(script), *args]
    completed = subprocess.run(argv, env={**base, **env}, capture_output=True, text=True, timeout=timeout, cwd=cwd)
    return Result(argv, completed.returncode, completed.stdout, completed.stderr)


def kubectl(*args: str, env: dict[str, str], timeout: float = 60) -> Result:
    binary = Path(sys.executable).parent / "kubectl"
    command = [str(binary) if binary.exists() else "kubectl", *args]
    completed = subprocess.run(command, env={"PATH": os.environ.get("PATH", ""), "HOME": env.get("HOME", "/root"), **env}, capture_output=True, text=True, timeout=timeout)
    return Result(command, completed.returncode, completed.stdout, completed.stderr)
