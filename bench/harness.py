"""Shared pieces of the benchmarks: statistics, script runs, request and object counts."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
PYTHON = Path(sys.executable)
KUBECTL = PYTHON.parent / "kubectl"
TOOL_MANAGER = "federation-scripts"  # field manager of every write the scripts make
STOP_WAIT = 5.0  # seconds to wait for the simulated clusters to stop


def summarize(samples: list[float]) -> dict[str, Any]:
    """Return the median, min and max of ``samples`` (seconds or counts) and how many there were."""
    return {"median": statistics.median(samples), "min": min(samples), "max": max(samples), "runs": len(samples), "samples": samples}


def script_env(kubeconfig: Path, home: Path, **overrides: str) -> dict[str, str]:
    """Return the environment of a script run: this kubeconfig and HOME, nothing from the caller's shell but PATH."""
    return {
        "PATH": f"{PYTHON.parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "HOME": str(home),
        "KUBECONFIG": str(kubeconfig),
        "FEDERATION_PYTHON": str(PYTHON),
        "LANG": "C.UTF-8",
        "NO_COLOR": "1",
        **overrides,
    }


@dataclass
class Timed:
    """One finished process: its wall time, exit code and output."""

    seconds: float
    returncode: int
    stdout: str
    stderr: str

    def check(self, what: str) -> "Timed":
        if self.returncode != 0:
            raise RuntimeError(f"{what} exited {self.returncode}\n--- stdout\n{self.stdout[-2000:]}\n--- stderr\n{self.stderr[-4000:]}")
        return self


def run_timed(argv: list[str], env: dict[str, str], timeout: float = 120, stdin: str | None = None) -> Timed:
    """Run ``argv`` and return its wall time, measured around the whole process."""
    started = time.perf_counter()
    completed = subprocess.run(argv, env=env, input=stdin, capture_output=True, text=True, timeout=timeout, cwd=ROOT)
    return Timed(time.perf_counter() - started, completed.returncode, completed.stdout, completed.stderr)


def run_child(command: str, args: list[str], env: dict[str, str], timeout: float = 180) -> tuple[Timed, dict[str, Any]]:
    """Run ``python -m bench.child COMMAND ARGS`` in a fresh interpreter and return it with the timings it measured."""
    with tempfile.NamedTemporaryFile("r", suffix=".json", prefix="bench-child-") as result:
        timed = run_timed([str(PYTHON), "-m", "bench.child", result.name, command, *args], {**env, "PYTHONPATH": str(ROOT)}, timeout)
        timed.check(f"bench.child {command}")
        return timed, json.loads(Path(result.name).read_text() or "{}")


# -- request and object counts --------------------------------------------------


def clear_requests(clusters: list[Any]) -> None:
    for cluster in clusters:
        cluster.requests.clear()
        for server in cluster.federation_servers:
            server["requests"].clear()


def requests_by_verb(clusters: list[Any]) -> dict[str, int]:
    """Sum the resource requests of ``clusters`` and of the federation API servers they run, by verb.

    NOTE: kubesim counts only resource paths, so /version, /healthz and discovery requests are not included.
    """
    total: Counter = Counter()
    for cluster in clusters:
        for (verb, _resource), count in cluster.requests.items():
            total[verb] += count
        for server in cluster.federation_servers:
            for (verb, _resource), count in server["requests"].items():
                total[verb] += count
    return dict(sorted(total.items()))


def _stores(clusters: list[Any]) -> list[Any]:
    stores = []
    for cluster in clusters:
        stores.append(cluster.store)
        stores.extend(server["store"] for server in cluster.federation_servers)
    return stores


def object_versions(clusters: list[Any]) -> dict[tuple, str]:
    """Return the resourceVersion of every stored object, keyed by store, resource, namespace and name."""
    versions = {}
    for index, store in enumerate(_stores(clusters)):
        for resource in store.registry.types:
            items, _ = store.list(resource)
            for item in items:
                metadata = item["metadata"]
                versions[(index, resource.plural, metadata.get("namespace"), metadata["name"])] = metadata.get("resourceVersion", "")
    return versions


def objects_written(clusters: list[Any], before: dict[tuple, str], manager_prefix: str) -> int:
    """Count objects created or changed since ``before`` that carry a managedFields entry of the given field manager.

    The managedFields test leaves out what the simulated controllers made (ReplicaSets, Pods, Endpoints).
    """
    count = 0
    for index, store in enumerate(_stores(clusters)):
        for resource in store.registry.types:
            items, _ = store.list(resource)
            for item in items:
                metadata = item["metadata"]
                key = (index, resource.plural, metadata.get("namespace"), metadata["name"])
                if before.get(key) == metadata.get("resourceVersion"):
                    continue
                if any(entry.get("manager", "").startswith(manager_prefix) for entry in metadata.get("managedFields") or []):
                    count += 1
    return count


def stop_clusters(simulation: Any) -> None:
    """Stop the simulated clusters, waiting at most ``STOP_WAIT`` seconds.

    NOTE: kubesim's stop() blocks for its 30 s timeout once a federation API server was removed
    (destroy_federation), so the stop runs in a daemon thread and the process may exit before it ends.
    """
    stopper = threading.Thread(target=simulation.stop, name="kubesim-stop", daemon=True)
    stopper.start()
    stopper.join(STOP_WAIT)


@dataclass
class Workspace:
    """A scratch directory with a HOME and an output root for one run."""

    path: Path
    home: Path = field(init=False)

    def __post_init__(self) -> None:
        self.home = self.path / "home"
        self.home.mkdir(parents=True, exist_ok=True)
