"""The measurements: each function starts its own simulated clusters and returns plain data for the report."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench.harness import (
    KUBECTL,
    PYTHON,
    ROOT,
    TOOL_MANAGER,
    clear_requests,
    object_versions,
    objects_written,
    requests_by_verb,
    run_child,
    run_timed,
    script_env,
    stop_clusters,
    summarize,
)

DEPLOY = ROOT / "federation/deploy/deploy.sh"
FEDERATION_UP = ROOT / "federation/cluster/federation-up.sh"
FEDERATION_DOWN = ROOT / "federation/cluster/federation-down.sh"
LAUNCHERS = {
    "deploy.sh": DEPLOY,
    "develop.sh": ROOT / "federation/develop/develop.sh",
    "kubefed.sh": ROOT / "federation/develop/kubefed.sh",
    "federation-up.sh": FEDERATION_UP,
    "federation-down.sh": FEDERATION_DOWN,
    "push-federation-images.sh": ROOT / "build/push-federation-images.sh",
}
ENTRY_MODULES = {
    "deploy.sh": "federation.deploy.deploy",
    "develop.sh": "federation.develop.develop",
    "kubefed.sh": "federation.develop.kubefed",
    "federation-up.sh": "federation.cluster.federation_up",
    "federation-down.sh": "federation.cluster.federation_down",
    "push-federation-images.sh": "federation.develop.push_images",
}
HEAVY_MODULES = ("kubernetes", "yaml", "cryptography", "urllib3")
UP_ENV = {
    "KUBERNETES_PROVIDER": "gce",
    "FEDERATION_DNS_PROVIDER": "google-clouddns",
    "FEDERATION_NAME": "myfederation",
    "DNS_ZONE_NAME": "myfederation.example",
    "FEDERATION_PUSH_REPO_BASE": "k8s.gcr.io",
    "FEDERATION_IMAGE_TAG": "v1.5.0",
    "FEDERATION_WAIT_TIMEOUT": "60",
}


def _simulate(specs: list, kubeconfig: Path) -> tuple[Any, float]:
    from kubesim import SimulatedClusters

    started = time.perf_counter()
    simulation = SimulatedClusters(specs, kubeconfig).start()
    return simulation, time.perf_counter() - started


def _request_summary(samples: list[dict[str, int]]) -> dict[str, Any]:
    verbs = sorted({verb for sample in samples for verb in sample})
    return {verb: summarize([sample.get(verb, 0) for sample in samples]) for verb in verbs}


def _budget(requests: dict[str, int], written: int) -> dict[str, Any]:
    """Compare the requests of one run with 1.2 times the objects written plus one watch per wait."""
    total = sum(requests.values())
    watches = requests.get("watch", 0)
    budget = 1.2 * written + watches
    return {"requests": total, "objects_written": written, "watches": watches, "budget": budget, "met": total <= budget}


# -- deploy_federation and destroy_federation ----------------------------------


def deploy(runs: int, scratch: Path) -> dict[str, Any]:
    """Time deploy_federation (launcher and in-process), destroy_federation, and the kubectl-per-object baseline.

    Each run gets a host cluster of its own because kubesim keeps serving the
    removed federation API server with its old certificate after destroy_federation.
    """
    from kubesim import ClusterSpec

    kubeconfig = scratch / "deploy" / "kubeconfig"
    kubeconfig.parent.mkdir(parents=True)
    kinds = ("launcher", "inprocess", "legacy")
    specs = [ClusterSpec(f"{kind}{index}", context=f"bench-{kind}-{index}", load_balancer=True) for kind in kinds for index in range(runs)]
    simulation, start_seconds = _simulate(specs, kubeconfig)
    home = scratch / "deploy" / "home"
    home.mkdir()

    samples: dict[str, list] = {"launcher": [], "inprocess_tool": [], "inprocess_wall": [], "legacy": [], "legacy_kubectl_only": [], "destroy": []}
    requests: dict[str, list] = {"deploy": [], "destroy": [], "legacy": []}
    budgets, legacy_runs = [], []
    try:
        for index in range(runs):
            for kind in kinds:
                context = f"bench-{kind}-{index}"
                cluster = simulation[f"{kind}{index}"]
                output_root = scratch / "deploy" / f"{kind}-{index}"
                env = script_env(kubeconfig, home, FEDERATION_OUTPUT_ROOT=str(output_root), FEDERATION_HOST_CLUSTER_CONTEXT=context, FEDERATION_WAIT_TIMEOUT="60")
                run_timed([str(DEPLOY), "init", "-q"], env).check("deploy.sh init")
                before = object_versions([cluster])
                clear_requests([cluster])

                if kind == "launcher":
                    samples["launcher"].append(run_timed([str(DEPLOY), "deploy_federation", "-q"], env).check("deploy.sh deploy_federation").seconds)
                elif kind == "inprocess":
                    timed, inside = run_child("deploy", ["deploy_federation", "-q"], env)
                    samples["inprocess_tool"].append(inside["tool_seconds"])
                    samples["inprocess_wall"].append(timed.seconds)
                else:
                    argv = [str(PYTHON), "-m", "bench.legacy_kubectl", f"--kubeconfig={kubeconfig}", f"--context={context}", f"--output-root={output_root}"]
                    timed = run_timed(argv, {**env, "PYTHONPATH": str(ROOT)}).check("bench.legacy_kubectl")
                    tally = json.loads(timed.stdout)
                    samples["legacy"].append(timed.seconds)
                    samples["legacy_kubectl_only"].append(timed.seconds - tally["sleep_seconds"])
                    legacy_runs.append(tally)

                counted = requests_by_verb([cluster])
                if kind == "legacy":
                    requests["legacy"].append(counted)
                    continue
                requests["deploy"].append(counted)
                budgets.append(_budget(counted, objects_written([cluster], before, TOOL_MANAGER)))

                if kind == "launcher":
                    clear_requests([cluster])
                    samples["destroy"].append(run_timed([str(DEPLOY), "destroy_federation", "-q"], env).check("deploy.sh destroy_federation").seconds)
                    requests["destroy"].append(requests_by_verb([cluster]))
    finally:
        stop_clusters(simulation)

    return {
        "clusters_started": len(specs),
        "cluster_start_seconds": start_seconds,
        "seconds": {name: summarize(values) for name, values in samples.items()},
        "requests": {name: _request_summary(values) for name, values in requests.items()},
        "budget": budgets,
        "legacy_runs": legacy_runs,
    }


# -- federation-up.sh and federation-down.sh ------------------------------------


def up_down(runs: int, scratch: Path) -> dict[str, Any]:
    """Time federation-up.sh with two members registered from kubeconfig files, then federation-down.sh."""
    from kubesim import ClusterSpec

    specs = []
    for index in range(runs):
        specs.append(ClusterSpec(f"up-host{index}", context=f"bench-up-host-{index}", load_balancer=True))
        specs.extend(ClusterSpec(f"up-member{index}-{number}", context=f"bench-up-member-{index}-{number}") for number in (1, 2))
    shared = scratch / "up" / "kubeconfig"
    shared.parent.mkdir(parents=True)
    simulation, start_seconds = _simulate(specs, shared)

    samples: dict[str, list] = {"up": [], "down": []}
    requests: dict[str, list] = {"up": [], "down": []}
    budgets = []
    try:
        for index in range(runs):
            clusters = [simulation[f"up-host{index}"], simulation[f"up-member{index}-1"], simulation[f"up-member{index}-2"]]
            kubeconfig = _member_layout(shared, scratch / "up" / f"run-{index}", [cluster.context for cluster in clusters[1:]])
            env = script_env(kubeconfig, kubeconfig.parent / "home", FEDERATION_HOST_CLUSTER_CONTEXT=clusters[0].context, **UP_ENV)

            before = object_versions(clusters)
            clear_requests(clusters)
            samples["up"].append(run_timed([str(FEDERATION_UP)], env).check("federation-up.sh").seconds)
            counted = requests_by_verb(clusters)
            requests["up"].append(counted)
            budgets.append(_budget(counted, objects_written(clusters, before, TOOL_MANAGER)))

            clear_requests(clusters)
            samples["down"].append(run_timed([str(FEDERATION_DOWN)], env).check("federation-down.sh").seconds)
            requests["down"].append(requests_by_verb(clusters))
    finally:
        stop_clusters(simulation)

    return {
        "clusters_started": len(specs),
        "cluster_start_seconds": start_seconds,
        "seconds": {name: summarize(values) for name, values in samples.items()},
        "requests": {name: _request_summary(values) for name, values in requests.items()},
        "budget": budgets,
    }


def _member_layout(shared: Path, directory: Path, member_contexts: list[str]) -> Path:
    """Copy the kubeconfig to ``directory`` and store each member's kubeconfig where kube-up left it for federation-up.sh."""
    directory.mkdir(parents=True)
    (directory / "home").mkdir()
    kubeconfig = directory / "config"
    shutil.copyfile(shared, kubeconfig)
    for number, context in enumerate(member_contexts, start=1):
        member = directory / "federation" / "kubernetes-apiserver" / f"member_{number}"
        member.mkdir(parents=True)
        flattened = subprocess.run(
            [str(KUBECTL), f"--kubeconfig={kubeconfig}", "config", "view", "--minify", "--flatten", f"--context={context}"],
            capture_output=True, text=True, timeout=30, check=True,
        )
        (member / "kubeconfig").write_text(flattened.stdout)
    return kubeconfig


# -- join ------------------------------------------------------------------------


NETWORK_LATENCY = 0.02  # seconds added to every simulated API request in the latency variant


def join(runs: int, scratch: Path, sizes: tuple[int, ...] = (1, 8, 32), concurrency: int = 8) -> dict[str, Any]:
    """Time join_all for N members, N in ``sizes``, after deploy_federation; members are unjoined between runs.

    All members live in one simulation, so its start time is measured once
    and kept out of the join times.
    """
    from kubesim import ClusterSpec

    largest = max(sizes)
    specs = [ClusterSpec("join-host", context="bench-join-host", load_balancer=True)]
    specs += [ClusterSpec(f"join-member{number}", context=f"bench-join-member-{number}") for number in range(1, largest + 1)]
    kubeconfig = scratch / "join" / "kubeconfig"
    kubeconfig.parent.mkdir(parents=True)
    simulation, start_seconds = _simulate(specs, kubeconfig)
    home = scratch / "join" / "home"
    home.mkdir()
    env = script_env(kubeconfig, home, FEDERATION_OUTPUT_ROOT=str(scratch / "join" / "output"), FEDERATION_HOST_CLUSTER_CONTEXT="bench-join-host")

    results: dict[str, Any] = {}
    try:
        run_timed([str(DEPLOY), "init", "-q"], env).check("deploy.sh init")
        run_timed([str(DEPLOY), "deploy_federation", "-q"], env).check("deploy.sh deploy_federation")
        for size in sizes:
            members = [f"bench-join-member-{number}" for number in range(1, size + 1)]
            clusters = [simulation["join-host"], *(simulation[f"join-member{number}"] for number in range(1, size + 1))]
            seconds, unjoin_seconds, counted, without_wait, with_latency = [], [], [], [], []
            for _ in range(runs):
                clear_requests(clusters)
                _, inside = run_child("join", ["bench-join-host", "federation-cluster", "federation", str(concurrency), "60", *members], env, timeout=300)
                seconds.append(inside["join_seconds"])
                unjoin_seconds.append(inside["unjoin_seconds"])
                # Requests of join and unjoin together: the counters cannot be read between the two inside the child.
                counted.append(requests_by_verb(clusters))

                _, inside = run_child("join", ["bench-join-host", "federation-cluster", "federation", str(concurrency), "0", *members], env, timeout=300)
                without_wait.append(inside["join_seconds"])

                # The same joins with every simulated API server answering NETWORK_LATENCY late, the
                # round trip to a cluster in the same region, which joins overlap when they run at once.
                for cluster in clusters:
                    cluster.faults.latency(NETWORK_LATENCY)
                try:
                    _, inside = run_child("join", ["bench-join-host", "federation-cluster", "federation", str(concurrency), "60", *members], env, timeout=300)
                    with_latency.append(inside["join_seconds"])
                finally:
                    for cluster in clusters:
                        cluster.faults.clear()
            results[str(size)] = {
                "members": size,
                "join_seconds": summarize(seconds),
                "join_without_ready_wait_seconds": summarize(without_wait),
                "join_with_latency_seconds": summarize(with_latency),
                "unjoin_seconds": summarize(unjoin_seconds),
                "requests_join_and_unjoin": _request_summary(counted),
            }
    finally:
        stop_clusters(simulation)

    return {"clusters_started": len(specs), "cluster_start_seconds": start_seconds, "concurrency": concurrency, "latency_seconds": NETWORK_LATENCY, "sizes": results}


# -- start-up ---------------------------------------------------------------------


def startup(runs: int, scratch: Path) -> dict[str, Any]:
    """Time ``--help`` of every launcher, two configuration errors, and the import of every entry module."""
    home = scratch / "startup"
    home.mkdir(parents=True)
    env = script_env(home / "missing-kubeconfig", home)

    help_seconds = {}
    for name, launcher in LAUNCHERS.items():
        help_seconds[name] = summarize([run_timed([str(launcher), "--help"], env).check(f"{name} --help").seconds for _ in range(runs)])

    errors = {}
    cases = {
        "deploy.sh deploy_federation, FEDERATION_OUTPUT_ROOT unset": ([str(DEPLOY), "deploy_federation"], env, 3),
        "federation-up.sh, KUBERNETES_PROVIDER=bogus": ([str(FEDERATION_UP)], {**env, "KUBERNETES_PROVIDER": "bogus"}, 3),
    }
    for label, (argv, case_env, expected) in cases.items():
        timings = []
        for _ in range(runs):
            timed = run_timed(argv, case_env)
            if timed.returncode != expected:
                raise RuntimeError(f"{label}: expected exit code {expected}, got {timed.returncode}: {timed.stderr}")
            timings.append(timed.seconds)
        errors[label] = summarize(timings)

    imports = {name: _import_cost(module, runs) for name, module in ENTRY_MODULES.items()}
    bare = summarize([run_timed([str(PYTHON), "-c", "pass"], env).seconds for _ in range(runs)])
    return {"help_seconds": help_seconds, "error_seconds": errors, "imports": imports, "python_start_seconds": bare}


def _import_cost(module: str, runs: int) -> dict[str, Any]:
    """Return the cumulative import time of ``module`` from ``-X importtime``, and which heavy packages it loads."""
    probe = f"import sys, {module}; print(','.join(name for name in {HEAVY_MODULES!r} if name in sys.modules))"
    seconds, loaded = [], ""
    for _ in range(runs):
        completed = subprocess.run([str(PYTHON), "-X", "importtime", "-c", probe], capture_output=True, text=True, timeout=60, cwd=ROOT, env={"PYTHONPATH": str(ROOT)})
        if completed.returncode != 0:
            raise RuntimeError(f"importing {module} failed: {completed.stderr[-2000:]}")
        pattern = re.compile(rf"^import time:\s+\d+ \|\s+(\d+) \| {re.escape(module)}$", re.MULTILINE)
        match = pattern.search(completed.stderr)
        seconds.append(int(match.group(1)) / 1e6 if match else float("nan"))
        loaded = completed.stdout.strip()
    return {"module": module, "seconds": summarize(seconds), "heavy_modules_loaded": [name for name in loaded.split(",") if name]}


def machine() -> dict[str, Any]:
    """Describe the machine and the tool versions behind the numbers."""
    import os
    import platform

    cpu = "unknown"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    memory_kib = next((int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines() if line.startswith("MemTotal:")), 0)
    kubectl = subprocess.run([str(KUBECTL), "version", "--client", "-o", "json"], capture_output=True, text=True, timeout=30)
    kubectl_version = json.loads(kubectl.stdout)["clientVersion"]["gitVersion"] if kubectl.returncode == 0 else "unknown"
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gib": round(memory_kib / 1024 / 1024, 1),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "kubectl": kubectl_version,
    }
