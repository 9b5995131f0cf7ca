"""Bad input for every script: one clear error, the documented exit code, nothing written.

Every case runs the script as a subprocess against simulated clusters where
a federation is already deployed, and checks that the run:

* exits with the code the README documents (2 usage, 3 invalid input, 4 preflight);
* prints one ``error:`` line naming the variable or file and the value, and a ``hint:`` with the fix;
* prints no traceback;
* leaves the kubeconfig bytes, the objects of every cluster and the files
  under FEDERATION_OUTPUT_ROOT and KUBE_ROOT as they were.
"""

from __future__ import annotations

import shutil
import socket
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

from tests.e2e.conftest import _simulated
from tests.e2e.scripts import DEPLOY, DEVELOP, FEDERATION_DOWN, FEDERATION_UP, KUBEFED, PUSH_IMAGES, ROOT, run
from tests.reliability.support import kubeconfig_entries, object_keys

USAGE, INVALID, PREFLIGHT = 2, 3, 4
KUBE_ROOT_FIXTURE = ROOT / "tests/fixtures/kube_root"

# A single `.env` line that python-dotenv cannot parse.
BROKEN_DOTENV = "KUBERNETES_PROVIDER=kind\nthis line has no equals sign\n"
NOT_UTF8 = b"apiVersion: v1\nclusters: \xff\xfe\n"


@dataclass
class Case:
    """One bad input: the script, its arguments, the environment and files it reads, and the expected outcome.

    Strings may contain ``{kubeconfig}``, ``{root}`` (FEDERATION_OUTPUT_ROOT),
    ``{tmp}``, ``{host}``, ``{member}``, ``{kube_root}`` and ``{dead}`` (a
    loopback port nothing listens on); ``files`` maps paths under ``{tmp}``
    (or ``{root}/...``) to their content.
    """

    script: Path
    args: tuple[str, ...]
    code: int
    expect: tuple[str, ...]
    env: dict[str, str] = field(default_factory=dict)
    files: dict[str, str | bytes] = field(default_factory=dict)
    root_exists: bool = True


DEPLOY_ENV = {"FEDERATION_HOST_CLUSTER_CONTEXT": "{host}", "FEDERATION_WAIT_TIMEOUT": "20"}
UP_ENV = {
    "KUBERNETES_PROVIDER": "gce",
    "FEDERATION_DNS_PROVIDER": "google-clouddns",
    "FEDERATION_NAME": "badinput",
    "DNS_ZONE_NAME": "badinput.example",
    "FEDERATION_PUSH_REPO_BASE": "k8s.gcr.io",
    "FEDERATION_IMAGE_TAG": "v1.5.0",
    "FEDERATION_HOST_CLUSTER_CONTEXT": "{host}",
    "FEDERATION_WAIT_TIMEOUT": "20",
}
DOWN_ENV = {"FEDERATION_NAME": "badinput", "FEDERATION_HOST_CLUSTER_CONTEXT": "{host}"}
BUILD_ENV = {"KUBE_ROOT": "{kube_root}", "KUBERNETES_PROVIDER": "kind", "KUBE_REGISTRY": "127.0.0.1:5000/federation", "KUBE_VERSION": "v1.8.0"}
PUSH_ENV = {"KUBE_ROOT": "{kube_root}", "KUBERNETES_PROVIDER": "kind", "FEDERATION_PUSH_REPO_BASE": "127.0.0.1:5000/federation", "FEDERATION_IMAGE_TAG": "v1.5.0", "FEDERATION_IMAGE_TAG_FILE": "{tmp}/federated-image.tag"}
KUBEFED_FLAGS = ("--host-cluster-context={host}", "--federation-system-namespace=federation", "--timeout=5")


def values(text: str) -> dict[str, str]:
    return {"{root}/values.yaml": text}


CASES = {
    # deploy.sh: the command line.
    "deploy-unknown-action": Case(DEPLOY, ("deploy_everything",), USAGE, ("action must be one of", "deploy_everything")),
    "deploy-no-action": Case(DEPLOY, (), USAGE, ("action must be one of", "got none")),
    "deploy-unknown-flag": Case(DEPLOY, ("deploy_federation", "--frobnicate"), USAGE, ("--frobnicate",)),
    "deploy-timeout-flag-not-number": Case(DEPLOY, ("deploy_federation", "--timeout=soon"), INVALID, ("--timeout='soon'",)),
    # deploy.sh: variables.
    "deploy-output-root-unset": Case(DEPLOY, ("deploy_federation",), INVALID, ("FEDERATION_OUTPUT_ROOT is not set",), env={"FEDERATION_OUTPUT_ROOT": ""}),
    "deploy-output-root-is-file": Case(DEPLOY, ("init",), INVALID, ("FEDERATION_OUTPUT_ROOT=", "is a file"), env={"FEDERATION_OUTPUT_ROOT": "{tmp}/a-file"}, files={"a-file": "x"}),
    "deploy-output-root-missing": Case(DEPLOY, ("deploy_federation",), INVALID, ("FEDERATION_OUTPUT_ROOT=", "does not exist", "deploy.sh init"), root_exists=False),
    "deploy-provider-unknown": Case(DEPLOY, ("deploy_federation",), INVALID, ("KUBERNETES_PROVIDER='azure'",), env={"KUBERNETES_PROVIDER": "azure"}),
    "deploy-timeout-not-number": Case(DEPLOY, ("deploy_federation",), INVALID, ("FEDERATION_WAIT_TIMEOUT='soon'",), env={"FEDERATION_WAIT_TIMEOUT": "soon"}),
    "deploy-timeout-zero": Case(DEPLOY, ("deploy_federation",), INVALID, ("FEDERATION_WAIT_TIMEOUT='0'",), env={"FEDERATION_WAIT_TIMEOUT": "0"}),
    "deploy-kube-context-not-dns1123": Case(DEPLOY, ("deploy_federation",), INVALID, ("FEDERATION_KUBE_CONTEXT='Fed_Cluster'", "DNS-1123"), env={"FEDERATION_KUBE_CONTEXT": "Fed_Cluster"}),
    "deploy-host-context-unknown": Case(DEPLOY, ("deploy_federation",), INVALID, ("FEDERATION_HOST_CLUSTER_CONTEXT='no-such-context'", "is not a context"), env={"FEDERATION_HOST_CLUSTER_CONTEXT": "no-such-context"}),
    "deploy-members-unknown-context": Case(DEPLOY, ("join_clusters",), INVALID, ("no-such-member",), env={"FEDERATION_CLUSTERS": "no-such-member"}),
    # deploy.sh: values.yaml.
    "deploy-values-malformed-yaml": Case(DEPLOY, ("deploy_federation",), INVALID, ("values.yaml is not valid YAML", "line 3"), files=values("namespace: federation\napiserverRegistry: [gcr.io\n")),
    "deploy-values-not-mapping": Case(DEPLOY, ("deploy_federation",), INVALID, ("values.yaml must be a mapping",), files=values("- namespace\n- federation\n")),
    "deploy-values-nested-value": Case(DEPLOY, ("deploy_federation",), INVALID, ("values.yaml: key 'namespace'",), files=values("namespace:\n  name: federation\n")),
    "deploy-values-not-utf8": Case(DEPLOY, ("deploy_federation",), INVALID, ("values.yaml",), files={"{root}/values.yaml": b"namespace: f\xe9d\n"}),
    "deploy-values-zone-uppercase": Case(DEPLOY, ("deploy_federation",), INVALID, ("controllerManagerDNSZone='Federation.Example'", "DNS zone"), files=values("controllerManagerDNSZone: Federation.Example\n")),
    "deploy-values-zone-underscore": Case(DEPLOY, ("deploy_federation",), INVALID, ("controllerManagerDNSZone='my_zone.example'",), files=values("controllerManagerDNSZone: my_zone.example\n")),
    "deploy-values-zone-double-dot": Case(DEPLOY, ("deploy_federation",), INVALID, ("controllerManagerDNSZone='federation..example'",), files=values("controllerManagerDNSZone: federation..example\n")),
    "deploy-values-zone-leading-dot": Case(DEPLOY, ("deploy_federation",), INVALID, ("controllerManagerDNSZone='.federation.example'",), files=values("controllerManagerDNSZone: .federation.example\n")),
    "deploy-values-zone-two-trailing-dots": Case(DEPLOY, ("deploy_federation",), INVALID, ("controllerManagerDNSZone='federation.example..'",), files=values("controllerManagerDNSZone: federation.example..\n")),
    "deploy-values-registry-invalid": Case(DEPLOY, ("deploy_federation",), INVALID, ("apiserverRegistry='Gcr.io/My Project'", "image repository"), files=values("apiserverRegistry: Gcr.io/My Project\n")),
    "deploy-values-namespace-not-dns1123": Case(DEPLOY, ("deploy_federation",), INVALID, ("namespace='Federation_NS'",), files=values("namespace: Federation_NS\n")),
    "deploy-values-federation-name-invalid": Case(DEPLOY, ("deploy_federation",), INVALID, ("controllerManagerFederationName='-fed'",), files=values("controllerManagerFederationName: -fed\n")),
    "deploy-values-version-with-plus": Case(DEPLOY, ("deploy_federation",), INVALID, ("apiserverVersion='v1.4.2+abc'", "'+'"), files=values("apiserverVersion: v1.4.2+abc\n")),
    "deploy-values-node-port-out-of-range": Case(DEPLOY, ("deploy_federation",), INVALID, ("apiserverNodePort='80'", "30000-32767"), files=values("apiserverNodePort: 80\n")),
    # deploy.sh: config.json.
    "deploy-config-json-malformed": Case(DEPLOY, ("deploy_clusters",), INVALID, ("config.json is not valid JSON",), env={"KUBERNETES_PROVIDER": "kind"}, files={"{root}/config.json": "[{\"phase1\": "}),
    "deploy-config-json-not-array": Case(DEPLOY, ("deploy_clusters",), INVALID, ("config.json must be a non-empty JSON array",), env={"KUBERNETES_PROVIDER": "kind"}, files={"{root}/config.json": "{}"}),
    # .env files: the working directory's and FEDERATION_OUTPUT_ROOT's.
    "deploy-dotenv-cwd-malformed": Case(DEPLOY, ("deploy_federation",), INVALID, (".env line 2", "this line has no equals sign"), files={".env": BROKEN_DOTENV}),
    "deploy-dotenv-output-root-malformed": Case(DEPLOY, ("deploy_federation",), INVALID, ("federation-output/.env line 2",), files={"{root}/.env": BROKEN_DOTENV}),
    "deploy-dotenv-bad-value": Case(DEPLOY, ("deploy_federation",), INVALID, ("KUBERNETES_PROVIDER='azure'",), files={"{root}/.env": "KUBERNETES_PROVIDER=azure\n"}),
    "deploy-dotenv-not-utf8": Case(DEPLOY, ("deploy_federation",), INVALID, (".env",), files={".env": b"KUBERNETES_PROVIDER=k\xefnd\n"}),
    # KUBECONFIG.
    "deploy-kubeconfig-missing": Case(DEPLOY, ("deploy_federation",), PREFLIGHT, ("no kubeconfig file found", "no-such-file"), env={"KUBECONFIG": "{tmp}/no-such-file"}),
    "deploy-kubeconfig-directory": Case(DEPLOY, ("deploy_federation",), INVALID, ("is a directory",), env={"KUBECONFIG": "{tmp}/kube-dir"}, files={"kube-dir/placeholder": ""}),
    "deploy-kubeconfig-not-utf8": Case(DEPLOY, ("deploy_federation",), INVALID, ("cannot read kubeconfig", "bad-config"), env={"KUBECONFIG": "{tmp}/bad-config"}, files={"bad-config": NOT_UTF8}),
    "deploy-kubeconfig-malformed-yaml": Case(DEPLOY, ("deploy_federation",), INVALID, ("bad-config is not valid YAML",), env={"KUBECONFIG": "{tmp}/bad-config"}, files={"bad-config": "clusters: [\n"}),
    "deploy-kubeconfig-not-kubeconfig": Case(DEPLOY, ("deploy_federation",), INVALID, ("bad-config is not a kubeconfig",), env={"KUBECONFIG": "{tmp}/bad-config"}, files={"bad-config": "clusters: a string\n"}),
    "deploy-server-unreachable": Case(DEPLOY, ("deploy_federation",), PREFLIGHT, ("cannot reach the API server https://127.0.0.1:{dead}", "connection refused"), env={"KUBECONFIG": "{tmp}/dead-config", "FEDERATION_HOST_CLUSTER_CONTEXT": "dead"}),
    # federation-up.sh.
    "up-provider-unknown": Case(FEDERATION_UP, (), INVALID, ("KUBERNETES_PROVIDER='azure'",), env={**UP_ENV, "KUBERNETES_PROVIDER": "azure"}),
    "up-federation-name-not-dns1123": Case(FEDERATION_UP, (), INVALID, ("FEDERATION_NAME='My_Federation'",), env={**UP_ENV, "FEDERATION_NAME": "My_Federation"}),
    "up-namespace-not-dns1123": Case(FEDERATION_UP, (), INVALID, ("FEDERATION_NAMESPACE='Federation'",), env={**UP_ENV, "FEDERATION_NAMESPACE": "Federation"}),
    "up-zone-uppercase": Case(FEDERATION_UP, (), INVALID, ("DNS_ZONE_NAME='MyFederation.Example'",), env={**UP_ENV, "DNS_ZONE_NAME": "MyFederation.Example"}),
    "up-zone-underscore": Case(FEDERATION_UP, (), INVALID, ("DNS_ZONE_NAME='my_federation.example'",), env={**UP_ENV, "DNS_ZONE_NAME": "my_federation.example"}),
    "up-zone-double-dot": Case(FEDERATION_UP, (), INVALID, ("DNS_ZONE_NAME='federation..example'",), env={**UP_ENV, "DNS_ZONE_NAME": "federation..example"}),
    "up-zone-leading-dot": Case(FEDERATION_UP, (), INVALID, ("DNS_ZONE_NAME='.federation.example'",), env={**UP_ENV, "DNS_ZONE_NAME": ".federation.example"}),
    "up-zone-single-label": Case(FEDERATION_UP, (), INVALID, ("DNS_ZONE_NAME='example'",), env={**UP_ENV, "DNS_ZONE_NAME": "example"}),
    "up-zone-variable-wins": Case(FEDERATION_UP, (), INVALID, ("FEDERATION_DNS_ZONE_NAME='Bad_Zone.example'",), env={**UP_ENV, "FEDERATION_DNS_ZONE_NAME": "Bad_Zone.example"}),
    "up-registry-uppercase": Case(FEDERATION_UP, (), INVALID, ("FEDERATION_PUSH_REPO_BASE='K8S.gcr.io'",), env={**UP_ENV, "FEDERATION_PUSH_REPO_BASE": "K8S.gcr.io"}),
    "up-registry-unset-on-kind": Case(FEDERATION_UP, (), INVALID, ("FEDERATION_PUSH_REPO_BASE is not set",), env={**UP_ENV, "KUBERNETES_PROVIDER": "kind", "FEDERATION_PUSH_REPO_BASE": ""}),
    "up-image-tag-with-plus": Case(FEDERATION_UP, (), INVALID, ("FEDERATION_IMAGE_TAG='v1.5.0+abc'",), env={**UP_ENV, "FEDERATION_IMAGE_TAG": "v1.5.0+abc"}),
    "up-dns-provider-unknown": Case(FEDERATION_UP, (), INVALID, ("FEDERATION_DNS_PROVIDER='bind'",), env={**UP_ENV, "FEDERATION_DNS_PROVIDER": "bind"}),
    "up-coredns-without-config": Case(FEDERATION_UP, (), INVALID, ("FEDERATION_DNS_PROVIDER_CONFIG",), env={**UP_ENV, "FEDERATION_DNS_PROVIDER": "coredns"}),
    "up-node-port-out-of-range": Case(FEDERATION_UP, (), INVALID, ("FEDERATION_API_NODEPORT='80'",), env={**UP_ENV, "KUBERNETES_PROVIDER": "kind", "FEDERATION_API_NODEPORT": "80"}),
    "up-service-cidr-invalid": Case(FEDERATION_UP, (), INVALID, ("FEDERATION_SERVICE_CIDR='10.10.0.1/24'",), env={**UP_ENV, "FEDERATION_SERVICE_CIDR": "10.10.0.1/24"}),
    "up-admission-control-invalid": Case(FEDERATION_UP, (), INVALID, ("FEDERATION_ADMISSION_CONTROL='NamespaceLifecycle, ResourceQuota'",), env={**UP_ENV, "FEDERATION_ADMISSION_CONTROL": "NamespaceLifecycle, ResourceQuota"}),
    "up-host-argument-conflicts": Case(FEDERATION_UP, ("kind-member1",), INVALID, ("'kind-member1' differs from FEDERATION_HOST_CLUSTER_CONTEXT",), env=UP_ENV),
    "up-host-context-unknown": Case(FEDERATION_UP, (), INVALID, ("FEDERATION_HOST_CLUSTER_CONTEXT='no-such-context'",), env={**UP_ENV, "FEDERATION_HOST_CLUSTER_CONTEXT": "no-such-context"}),
    "up-kube-context-is-host": Case(FEDERATION_UP, (), INVALID, ("FEDERATION_KUBE_CONTEXT='federation-e2e-host'", "host cluster's context"), env={**UP_ENV, "FEDERATION_KUBE_CONTEXT": "{host}"}),
    "up-members-unknown-context": Case(FEDERATION_UP, (), INVALID, ("FEDERATION_CLUSTERS='no-such-member'",), env={**UP_ENV, "FEDERATION_CLUSTERS": "no-such-member"}),
    "up-use-kubefed-not-boolean": Case(FEDERATION_UP, (), INVALID, ("USE_KUBEFED='maybe'", "true or false"), env={**UP_ENV, "USE_KUBEFED": "maybe"}),
    "up-timeout-negative": Case(FEDERATION_UP, (), INVALID, ("FEDERATION_WAIT_TIMEOUT='-5'",), env={**UP_ENV, "FEDERATION_WAIT_TIMEOUT": "-5"}),
    "up-kubeconfig-malformed": Case(FEDERATION_UP, (), INVALID, ("bad-config is not valid YAML",), env={**UP_ENV, "KUBECONFIG": "{tmp}/bad-config"}, files={"bad-config": "contexts: [\n"}),
    "up-server-unreachable": Case(FEDERATION_UP, (), PREFLIGHT, ("cannot reach the API server https://127.0.0.1:{dead}",), env={**UP_ENV, "KUBECONFIG": "{tmp}/dead-config", "FEDERATION_HOST_CLUSTER_CONTEXT": "dead"}),
    # federation-down.sh.
    "down-host-context-unknown": Case(FEDERATION_DOWN, (), INVALID, ("FEDERATION_HOST_CLUSTER_CONTEXT='no-such-context'",), env={**DOWN_ENV, "FEDERATION_HOST_CLUSTER_CONTEXT": "no-such-context"}),
    "down-federation-name-not-dns1123": Case(FEDERATION_DOWN, (), INVALID, ("FEDERATION_NAME='Bad.Name'",), env={**DOWN_ENV, "FEDERATION_NAME": "Bad.Name"}),
    "down-kubeconfig-missing": Case(FEDERATION_DOWN, (), PREFLIGHT, ("no kubeconfig file found",), env={**DOWN_ENV, "KUBECONFIG": "{tmp}/no-such-file"}),
    "down-unknown-flag": Case(FEDERATION_DOWN, ("--purge",), USAGE, ("--purge",), env=DOWN_ENV),
    # kubefed.sh.
    "kubefed-no-command": Case(KUBEFED, (), USAGE, ("COMMAND",)),
    "kubefed-unknown-command": Case(KUBEFED, ("rejoin", "kind-member1"), USAGE, ("rejoin",)),
    "kubefed-timeout-not-number": Case(KUBEFED, ("join", "kind-member1", "--timeout=soon"), USAGE, ("--timeout", "soon")),
    "kubefed-credentials-unknown": Case(KUBEFED, ("join", "kind-member1", "--credentials=password"), USAGE, ("--credentials", "password")),
    "kubefed-host-context-unknown": Case(KUBEFED, ("join", "kind-member1", "--host-cluster-context=no-such-context"), INVALID, ("--host-cluster-context='no-such-context'",)),
    "kubefed-kubeconfig-flag-missing": Case(KUBEFED, ("join", "kind-member1", *KUBEFED_FLAGS, "--kubeconfig={tmp}/no-such-file"), PREFLIGHT, ("no kubeconfig file found", "no-such-file")),
    "kubefed-dns-provider-config-missing": Case(KUBEFED, ("join", "kind-member1", *KUBEFED_FLAGS, "--dns-provider-config={tmp}/no-such.conf"), INVALID, ("--dns-provider-config=", "no-such.conf", "is not an existing file")),
    "kubefed-member-context-unknown": Case(KUBEFED, ("join", "member3", *KUBEFED_FLAGS, "--cluster-context=no-such-member"), INVALID, ("no-such-member",)),
    "kubefed-zone-uppercase": Case(KUBEFED, ("join", "kind-member1", *KUBEFED_FLAGS, "--dns-zone-name=Federation.Example"), INVALID, ("Federation.Example",)),
    # develop.sh.
    "develop-unknown-action": Case(DEVELOP, ("build_everything",), USAGE, ("build_everything",), env=BUILD_ENV),
    "develop-kube-root-unset": Case(DEVELOP, ("build_image", "--dry-run"), INVALID, ("KUBE_ROOT is not set",), env={**BUILD_ENV, "KUBE_ROOT": ""}),
    "develop-kube-root-not-a-tree": Case(DEVELOP, ("build_image", "--dry-run"), INVALID, ("KUBE_ROOT=", "is not a Kubernetes source tree"), env={**BUILD_ENV, "KUBE_ROOT": "{tmp}/empty"}, files={"empty/README": "not kubernetes"}),
    "develop-registry-uppercase": Case(DEVELOP, ("build_image", "--dry-run"), INVALID, ("KUBE_REGISTRY='Localhost:5000/Federation'", "uppercase"), env={**BUILD_ENV, "KUBE_REGISTRY": "Localhost:5000/Federation"}),
    "develop-registry-space": Case(DEVELOP, ("build_image", "--dry-run"), INVALID, ("KUBE_REGISTRY='localhost:5000/my federation'", "white space"), env={**BUILD_ENV, "KUBE_REGISTRY": "localhost:5000/my federation"}),
    "develop-kind-cluster-invalid": Case(DEVELOP, ("push", "--dry-run", "--kind-cluster=Bad_Cluster"), INVALID, ("KIND_CLUSTERS='Bad_Cluster'",), env=BUILD_ENV),
    # push-federation-images.sh.
    "push-repo-unset-on-kind": Case(PUSH_IMAGES, ("--dry-run",), INVALID, ("FEDERATION_PUSH_REPO_BASE is not set",), env={**PUSH_ENV, "FEDERATION_PUSH_REPO_BASE": ""}),
    "push-repo-invalid": Case(PUSH_IMAGES, ("--dry-run",), INVALID, ("FEDERATION_PUSH_REPO_BASE='127.0.0.1:5000/fed//images'",), env={**PUSH_ENV, "FEDERATION_PUSH_REPO_BASE": "127.0.0.1:5000/fed//images"}),
    "push-tag-invalid": Case(PUSH_IMAGES, ("--dry-run",), INVALID, ("FEDERATION_IMAGE_TAG='v1.5 beta'",), env={**PUSH_ENV, "FEDERATION_IMAGE_TAG": "v1.5 beta"}),
    "push-kube-root-unset": Case(PUSH_IMAGES, ("--dry-run",), INVALID, ("KUBE_ROOT is not set",), env={**PUSH_ENV, "KUBE_ROOT": ""}),
    "push-unknown-flag": Case(PUSH_IMAGES, ("--everything",), USAGE, ("--everything",), env=PUSH_ENV),
}


def free_loopback_port() -> int:
    """Return a loopback port that nothing listens on (bound once, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def deployed(tmp_path_factory):
    """Simulated clusters with a federation deployed by deploy.sh, shared by every case."""
    tmp = tmp_path_factory.mktemp("bad-input")
    for clusters in _simulated(tmp, load_balancer=True, member_dns=("coredns", "kube-dns"), require_token=True):
        env = clusters.env(FEDERATION_OUTPUT_ROOT=str(tmp / "deployed"), FEDERATION_HOST_CLUSTER_CONTEXT=clusters.host, FEDERATION_WAIT_TIMEOUT="60")
        for action in ("init", "deploy_federation"):
            result = run(DEPLOY, action, env=env)
            assert result.returncode == 0, result.explain()
        yield clusters


def dead_kubeconfig(port: int) -> str:
    """A kubeconfig whose only context points at a loopback port nothing listens on."""
    return yaml.safe_dump(
        {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "dead", "cluster": {"server": f"https://127.0.0.1:{port}", "insecure-skip-tls-verify": True}}],
            "users": [{"name": "dead", "user": {"token": "not-a-real-token"}}],
            "contexts": [{"name": "dead", "context": {"cluster": "dead", "user": "dead"}}],
            "current-context": "dead",
        }
    )


def snapshot(directory: Path) -> dict[str, bytes]:
    if not directory.exists():
        return {}
    return {str(path.relative_to(directory)): path.read_bytes() for path in sorted(directory.rglob("*")) if path.is_file()}


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_bad_input_rejected_cleanly(deployed, tmp_path, case: Case):
    kubeconfig = tmp_path / "kube" / "config"
    kubeconfig.parent.mkdir()
    shutil.copy(deployed.kubeconfig, kubeconfig)
    kube_root = tmp_path / "kube-root"
    shutil.copytree(KUBE_ROOT_FIXTURE, kube_root)
    root = tmp_path / "federation-output"
    if case.root_exists:
        root.mkdir()
    port = free_loopback_port()
    (tmp_path / "dead-config").write_text(dead_kubeconfig(port))
    fill = {"{kubeconfig}": str(kubeconfig), "{root}": str(root), "{tmp}": str(tmp_path), "{host}": deployed.host, "{member}": deployed.members[0], "{kube_root}": str(kube_root), "{dead}": str(port)}

    def expand(text: str) -> str:
        for placeholder, value in fill.items():
            text = text.replace(placeholder, value)
        return text

    for name, content in case.files.items():
        path = Path(expand(name)) if name.startswith("{") else tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)

    env = deployed.env(**{"KUBECONFIG": str(kubeconfig), "FEDERATION_OUTPUT_ROOT": str(root), **DEPLOY_ENV, **case.env})
    env = {name: expand(value) for name, value in env.items()}
    kubeconfig_before = kubeconfig.read_bytes()
    root_before = snapshot(root)
    kube_root_before = snapshot(kube_root)
    objects_before = {cluster.name: object_keys(cluster) for cluster in deployed.sim}

    result = run(case.script, *(expand(arg) for arg in case.args), env=env, cwd=tmp_path, timeout=60)

    assert result.returncode == case.code, result.explain()
    for fragment in case.expect:
        assert expand(fragment) in result.stderr, result.explain()
    assert result.stderr.count("error: ") == 1, result.explain()
    assert "hint: " in result.stderr, result.explain()
    assert "Traceback" not in result.output, result.explain()
    assert kubeconfig.read_bytes() == kubeconfig_before
    assert snapshot(root) == root_before
    assert snapshot(kube_root) == kube_root_before
    for cluster in deployed.sim:
        assert object_keys(cluster) == objects_before[cluster.name], f"objects changed in {cluster.name}"


def test_bad_input_table_size():
    assert len(CASES) >= 40
