"""The kind backend of the ``clusters`` fixture: one host and two members as real kind clusters.

Selected with ``pytest -m kind`` or ``--backend=kind``. The three clusters
are created once per test session, in parallel, through pytest-kind-ng's
``KindCluster``, and every test gets a fresh copy of their merged kubeconfig.
After each test, the backend deletes the namespaces, cluster roles and
kube-system ConfigMaps the test added, and restores changed ConfigMaps and
StorageClass defaults. At the end of the session it deletes only the
clusters this run created.

Nothing is downloaded: kind and kubectl come from ``--kind-bin`` /
``--kind-kubectl-bin``, the ``KIND`` / ``KUBECTL`` variables, or PATH, and the
node image must already be in Docker. When something is missing the tests
skip with the reason, or fail with it when ``FEDERATION_KIND_REQUIRED=1``.
"""

from __future__ import annotations

import importlib.util
import os
import secrets
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.e2e import kind_support
from tests.e2e.conftest import Clusters
from tests.e2e.kind_support import ROLES, ContextPlan, Probe

ROOT = Path(__file__).resolve().parents[2]
VERSIONS_FILE = ROOT / "hack/kind/versions.env"
STATE_ROOT = ROOT / "_output/kind-e2e"
LOG_ROOT = ROOT / "_output/kind-logs"

PROBE_TIMEOUT = 30  # seconds for docker info and docker image inspect
PRIVILEGED_TIMEOUT = 120  # seconds for a throwaway privileged container of the node image
NODES_READY_TIMEOUT = 300  # seconds for the nodes of a new cluster to become Ready
NAMESPACE_GONE_TIMEOUT = 180  # seconds for a namespace to finish terminating
EXPORT_LOGS_TIMEOUT = 300  # seconds for kind export logs of one cluster
STORAGE_DEFAULT_ANNOTATION = "storageclass.kubernetes.io/is-default-class"


def read_versions(path: Path = VERSIONS_FILE) -> dict[str, str]:
    """Parse the ``NAME=value`` lines of hack/kind/versions.env."""
    versions = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            name, value = line.split("=", 1)
            versions[name.strip()] = value.strip()
    return versions


# -- tools and probes ---------------------------------------------------------


@dataclass(frozen=True)
class Tools:
    kind: str
    kubectl: str
    node_image: str


def _locate(config: pytest.Config, option: str, variable: str, program: str, fallback: Path | None = None) -> tuple[str | None, str]:
    """Return the binary's path (None when absent) and where it was looked for."""
    flag = config.getoption(option, default=None)
    if flag:
        return shutil.which(flag), f"--{option.replace('_', '-')}={flag}"
    if os.environ.get(variable):
        return shutil.which(os.environ[variable]), f"{variable}={os.environ[variable]}"
    if fallback is not None and fallback.exists():
        return str(fallback), str(fallback)
    return shutil.which(program), "PATH"


def _docker(*args: str, timeout: float) -> subprocess.CompletedProcess:
    return subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout, env={**os.environ})


def probe(config: pytest.Config, node_image: str) -> Probe:
    """Look for everything kind needs, stopping at the first missing piece."""
    result = Probe(pytest_kind=importlib.util.find_spec("pytest_kind") is not None)
    result.kind, result.kind_source = _locate(config, "kind_bin", "KIND", "kind")
    result.kubectl, result.kubectl_source = _locate(config, "kind_kubectl_bin", "KUBECTL", "kubectl", Path(sys.executable).parent / "kubectl")
    result.docker = shutil.which("docker")
    if not (result.pytest_kind and result.kind and result.kubectl and result.docker):
        return result

    try:
        info = _docker("info", "--format", "{{.ServerVersion}}", timeout=PROBE_TIMEOUT)
        result.docker_error = None if info.returncode == 0 else (info.stderr or info.stdout)
    except subprocess.TimeoutExpired:
        result.docker_error = f"docker info timed out after {PROBE_TIMEOUT}s"
    if result.docker_error is not None:
        return result

    inspected = _docker("image", "inspect", "--format", "{{.Id}}", node_image, timeout=PROBE_TIMEOUT)
    result.image_present = inspected.returncode == 0
    if not result.image_present:
        return result

    # kind nodes are privileged containers, so a throwaway one without network shows whether the engine allows them.
    try:
        started = _docker("run", "--rm", "--privileged", "--network", "none", "--entrypoint", "true", node_image, timeout=PRIVILEGED_TIMEOUT)
        result.privileged_error = None if started.returncode == 0 else (started.stderr or started.stdout)
    except subprocess.TimeoutExpired:
        result.privileged_error = f"docker run --privileged timed out after {PRIVILEGED_TIMEOUT}s"
    return result


# -- the adapter the scenarios use for direct reads ---------------------------


class KindClusterView:
    """The read and setup methods of a kubesim cluster that scenarios call, through the Kubernetes API."""

    def __init__(self, kubeconfig: Path, context: str) -> None:
        from federation.core.kube import Cluster
        from federation.core.kubeconfig import Kubeconfig

        self.context = context
        self.api = Cluster(Kubeconfig.load([kubeconfig]), context)

    def get_object(self, api_version: str, kind: str, name: str, namespace: str | None = None) -> dict | None:
        return self.api.get(api_version, kind, name, namespace)

    def objects(self, api_version: str, kind: str, namespace: str | None = None) -> list[dict]:
        return self.api.list(api_version, kind, namespace)

    def set_default_storage_class(self, enabled: bool) -> None:
        """Mark kind's ``standard`` StorageClass as the default, or not. The reset after the test restores it."""
        patch = {"metadata": {"annotations": {STORAGE_DEFAULT_ANNOTATION: "true" if enabled else "false"}}}
        self.api.request("PATCH", "/apis/storage.k8s.io/v1/storageclasses/standard", body=patch, content_type="application/merge-patch+json")


# -- what a cluster looked like when it was created ---------------------------


@dataclass
class Baseline:
    namespaces: set[str]
    cluster_roles: set[str]
    cluster_role_bindings: set[str]
    kube_system_config_maps: dict[str, dict]  # name -> data
    storage_class_defaults: dict[str, str | None]  # StorageClass name -> default annotation

    @classmethod
    def record(cls, view: KindClusterView) -> "Baseline":
        api = view.api
        return cls(
            namespaces={item["metadata"]["name"] for item in api.list("v1", "Namespace")},
            cluster_roles={item["metadata"]["name"] for item in api.list("rbac.authorization.k8s.io/v1", "ClusterRole")},
            cluster_role_bindings={item["metadata"]["name"] for item in api.list("rbac.authorization.k8s.io/v1", "ClusterRoleBinding")},
            kube_system_config_maps={item["metadata"]["name"]: item.get("data") or {} for item in api.list("v1", "ConfigMap", "kube-system")},
            storage_class_defaults={
                item["metadata"]["name"]: (item["metadata"].get("annotations") or {}).get(STORAGE_DEFAULT_ANNOTATION) for item in api.list("storage.k8s.io/v1", "StorageClass")
            },
        )

    def restore(self, view: KindClusterView) -> None:
        """Delete what a test added and put back what it changed."""
        api = view.api
        added_namespaces = [item["metadata"]["name"] for item in api.list("v1", "Namespace") if item["metadata"]["name"] not in self.namespaces]
        for name in added_namespaces:
            api.delete("v1", "Namespace", name)
        for kind, kept in (("ClusterRole", self.cluster_roles), ("ClusterRoleBinding", self.cluster_role_bindings)):
            for item in api.list("rbac.authorization.k8s.io/v1", kind):
                if item["metadata"]["name"] not in kept:
                    api.delete("rbac.authorization.k8s.io/v1", kind, item["metadata"]["name"])

        for item in api.list("v1", "ConfigMap", "kube-system"):
            name = item["metadata"]["name"]
            if name not in self.kube_system_config_maps:
                api.delete("v1", "ConfigMap", name, "kube-system")
            elif (item.get("data") or {}) != self.kube_system_config_maps[name]:
                item["data"] = self.kube_system_config_maps[name]
                api.replace(item)

        for name, value in self.storage_class_defaults.items():
            patch = {"metadata": {"annotations": {STORAGE_DEFAULT_ANNOTATION: value}}}
            api.request("PATCH", f"/apis/storage.k8s.io/v1/storageclasses/{name}", body=patch, content_type="application/merge-patch+json")

        deadline = time.monotonic() + NAMESPACE_GONE_TIMEOUT
        for name in added_namespaces:
            while api.get("v1", "Namespace", name) is not None:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"namespace {name!r} of context {view.context!r} was still terminating after {NAMESPACE_GONE_TIMEOUT}s")
                time.sleep(2)


# -- the clusters of one test session -----------------------------------------


@dataclass
class KindRun:
    """The three kind clusters of one pytest session and the state they need."""

    tools: Tools
    run_id: str
    state_dir: Path
    keep: bool
    images: list[str]
    names: dict[str, str] = field(init=False)
    kind_clusters: dict[str, Any] = field(default_factory=dict)  # role -> pytest_kind.KindCluster
    kubeconfig: Path = field(init=False)
    host: str = ""
    members: list[str] = field(default_factory=list)
    views: dict[str, KindClusterView] = field(default_factory=dict)
    baselines: dict[str, Baseline] = field(default_factory=dict)
    broken: str | None = None  # why the clusters cannot be used any more

    def __post_init__(self) -> None:
        self.names = kind_support.cluster_names(self.run_id)
        self.kubeconfig = self.state_dir / "kubeconfig"

    def _kind(self, *args: str, timeout: float) -> subprocess.CompletedProcess:
        return subprocess.run([self.tools.kind, *args], capture_output=True, text=True, timeout=timeout, env={**os.environ})

    def start(self, report: Any) -> None:
        """Create the clusters in parallel, load the images, merge the kubeconfigs and record baselines."""
        from pytest_kind import KindCluster

        existing = self._kind("get", "clusters", timeout=PROBE_TIMEOUT).stdout.split()
        conflicts = kind_support.name_conflicts(list(self.names.values()), existing)
        if conflicts:
            raise RuntimeError(f"kind clusters {', '.join(conflicts)} already exist and belong to someone else; this run neither reuses nor deletes them")

        networks = kind_support.allocate_networks()
        self.state_dir.mkdir(parents=True, exist_ok=True)
        for role, name in self.names.items():
            (self.state_dir / f"{name}.kind.yaml").write_text(yaml.safe_dump(kind_support.kind_config(networks[role], self.run_id)))
            self.kind_clusters[role] = KindCluster(
                name,
                kubeconfig=self.state_dir / f"{name}.kubeconfig",
                image=self.tools.node_image,
                kind_path=Path(self.tools.kind),
                kubectl_path=Path(self.tools.kubectl),
            )

        started = time.monotonic()
        with ThreadPoolExecutor(max_workers=len(ROLES)) as pool:
            futures = {role: pool.submit(self._create, role) for role in ROLES}
            errors = [f"{self.names[role]}: {future.exception()}" for role, future in futures.items() if future.exception() is not None]
        if errors:
            raise RuntimeError("kind create cluster failed: " + "; ".join(errors))
        report(f"kind backend: created {', '.join(self.names.values())} in {time.monotonic() - started:.0f}s with {self.tools.node_image}")

        for image in self.images:
            self.kind_clusters["host"].load_docker_image(image)
            report(f"kind backend: loaded {image} into {self.names['host']}")

        self._merge_kubeconfigs()
        for context in [self.host, *self.members]:
            self.views[context] = KindClusterView(self.kubeconfig, context)
            self.baselines[context] = Baseline.record(self.views[context])

    def _create(self, role: str) -> None:
        name = self.names[role]
        # The marker is written before kind runs, so a cluster that existed before this run never has one.
        kind_support.marker_path(self.state_dir, name).write_text(kind_support.marker_text(self.run_id, name))
        cluster = self.kind_clusters[role]
        # NOTE: KindCluster.create has no timeout of its own, so this relies on kind create cluster ending when kubeadm gives up.
        cluster.create(config_file=self.state_dir / f"{name}.kind.yaml")
        cluster.kubectl("wait", "--for=condition=Ready", "nodes", "--all", f"--timeout={NODES_READY_TIMEOUT}s", timeout=NODES_READY_TIMEOUT + 30)

    def _merge_kubeconfigs(self) -> None:
        from federation.core.files import atomic_write
        from federation.core.registration.endpoint import KIND_API_PORT, docker_addresses

        documents = {role: yaml.safe_load(cluster.kubeconfig_path.read_text()) for role, cluster in self.kind_clusters.items()}
        # member2's context is not named kind-<cluster>, so join would keep a loopback server that the
        # host's pods cannot reach. Its container address works for the pods and for this (Linux) machine.
        member2_addresses = docker_addresses(f"{self.names['member2']}-control-plane")
        plans = [
            ContextPlan(documents["host"], kind_support.kind_context(self.names["host"])),
            ContextPlan(documents["member1"], kind_support.kind_context(self.names["member1"])),
            ContextPlan(documents["member2"], kind_support.MEMBER2_CONTEXT, kind_support.container_server(member2_addresses[0], KIND_API_PORT)),
        ]
        self.host = plans[0].context
        self.members = [plans[1].context, plans[2].context]
        merged = kind_support.merge_kubeconfigs(plans, current_context=self.host)
        atomic_write(self.kubeconfig, yaml.safe_dump(merged).encode(), mode=0o600)

    def reset(self) -> None:
        for context, baseline in self.baselines.items():
            baseline.restore(self.views[context])

    def export_logs(self, directory: Path) -> list[str]:
        """Run ``kind export logs`` for every cluster into ``directory``; return the failures."""
        failures = []
        for name in self.names.values():
            try:
                exported = self._kind("export", "logs", str(directory / name), "--name", name, timeout=EXPORT_LOGS_TIMEOUT)
            except subprocess.TimeoutExpired:
                failures.append(f"{name}: timed out after {EXPORT_LOGS_TIMEOUT}s")
                continue
            if exported.returncode != 0:
                failures.append(f"{name}: {kind_support.first_line(exported.stderr)}")
        return failures

    def teardown(self, report: Any) -> None:
        """Delete the clusters this run created, unless asked to keep them. Other clusters are never deleted."""
        owned = [role for role, name in self.names.items() if role in self.kind_clusters and kind_support.is_owned(name, self.run_id, self.state_dir)]
        if self.keep:
            report(f"kind backend: keeping {', '.join(self.names[role] for role in owned)}; kubeconfig {self.kubeconfig}")
            report(f"  delete them with: kind delete clusters {' '.join(self.names[role] for role in owned)}")
            return
        for role in owned:
            name = self.names[role]
            try:
                self.kind_clusters[role].delete()
            except (subprocess.CalledProcessError, OSError) as error:
                report(f"kind backend: deleting {name} failed ({error}); delete it with: kind delete cluster --name {name}")
                continue
            kind_support.marker_path(self.state_dir, name).unlink(missing_ok=True)
            _remove_empty(Path(".pytest-kind") / name)


def _remove_empty(directory: Path) -> None:
    # KindCluster makes .pytest-kind/<name> in the working directory even when kind and kubectl are given.
    try:
        directory.rmdir()
        directory.parent.rmdir()
    except OSError:
        pass


# -- the session and the fixture ----------------------------------------------

_lock = threading.Lock()
_session: dict[str, Any] = {}  # "skip" -> reason or None, "run" -> KindRun, "error" -> message


def _reporter(config: pytest.Config):
    terminal = config.pluginmanager.get_plugin("terminalreporter")

    def report(line: str) -> None:
        if terminal is not None:
            terminal.write_line(line)
        else:
            print(line, file=sys.stderr)

    return report


def _unavailable(reason: str) -> None:
    if os.environ.get("FEDERATION_KIND_REQUIRED", "") == "1":
        pytest.fail(f"{reason} (FEDERATION_KIND_REQUIRED=1, so this fails instead of skipping)", pytrace=False)
    pytest.skip(reason)


def _session_run(config: pytest.Config) -> KindRun:
    """Return the session's clusters, probing and creating them on first use."""
    with _lock:
        if "skip" not in _session:
            node_image = config.getoption("kind_image", default=None) or os.environ.get("KIND_NODE_IMAGE") or read_versions()["KIND_NODE_IMAGE"]
            found = probe(config, node_image)
            _session["skip"] = kind_support.skip_reason(found, node_image)
            _session["tools"] = Tools(found.kind or "", found.kubectl or "", node_image)
        if _session["skip"]:
            _unavailable(_session["skip"])
        if "error" in _session:
            pytest.fail(_session["error"], pytrace=False)
        if "run" not in _session:
            _session["run"] = _start(config)
        return _session["run"]


def _start(config: pytest.Config) -> KindRun:
    report = _reporter(config)
    try:
        images = kind_support.parse_image_list(os.environ.get("FEDERATION_TEST_IMAGES", ""))
    except ValueError as error:
        _session["error"] = f"kind backend: {error}"
        pytest.fail(_session["error"], pytrace=False)
    missing = [image for image in images if _docker("image", "inspect", "--format", "{{.Id}}", image, timeout=PROBE_TIMEOUT).returncode != 0]
    if missing:
        _session["error"] = f"kind backend: FEDERATION_TEST_IMAGES lists images that Docker does not have: {', '.join(missing)} (build them, e.g. develop.sh build_image, or docker pull)"
        pytest.fail(_session["error"], pytrace=False)

    run_id = secrets.token_hex(3)
    keep = bool(config.getoption("keep_cluster", default=False)) or os.environ.get("FEDERATION_KIND_KEEP", "") == "1"
    run = KindRun(_session["tools"], run_id, STATE_ROOT / run_id, keep, images)
    config.add_cleanup(lambda: run.teardown(report))
    try:
        run.start(report)
    except Exception as error:  # any failure leaves the session without clusters, so later tests fail with the same message
        _session["error"] = f"kind backend: could not create the clusters: {error}"
        pytest.fail(_session["error"], pytrace=False)
    return run


def _failed(request: pytest.FixtureRequest) -> bool:
    reports = request.node.stash.get(kind_support.REPORTS, {})
    return any(report.failed for report in reports.values())


def kind_clusters(request: pytest.FixtureRequest, tmp_path: Path, cluster_options: dict) -> Iterator[Clusters]:
    """Yield ``Clusters`` on the session's kind clusters, then reset them (and save logs if the test failed)."""
    gap = kind_support.kind_gap(request.node.name)
    if gap:
        pytest.skip(f"kind backend: this scenario {gap}")

    run = _session_run(request.config)
    if run.broken:
        pytest.fail(run.broken, pytrace=False)

    kubeconfig = tmp_path / "kube" / "config"
    kubeconfig.parent.mkdir(parents=True)
    shutil.copyfile(run.kubeconfig, kubeconfig)
    kubeconfig.chmod(0o600)
    home = tmp_path / "home"
    home.mkdir()

    # kind has no load-balancer controller, so scenarios get NodePort Services unless they set a provider.
    yield Clusters("kind", kubeconfig, run.host, list(run.members), home, sim=None, extra_env={"KUBERNETES_PROVIDER": "kind"}, views=dict(run.views))

    if _failed(request):
        directory = kind_support.log_directory(LOG_ROOT, request.node.nodeid)
        failures = run.export_logs(directory)
        _reporter(request.config)(f"kind backend: logs of {request.node.nodeid} in {directory}" + (f" (failed: {'; '.join(failures)})" if failures else ""))
    try:
        run.reset()
    except Exception as error:  # a half-reset cluster would make every later result meaningless
        run.broken = f"kind backend: the clusters could not be reset after {request.node.nodeid}: {error}"
        raise
