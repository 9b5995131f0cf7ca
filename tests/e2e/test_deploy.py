"""deploy.sh end to end on the clusters fixture (simulated by default)."""

from __future__ import annotations

import base64
import json
import os
import stat

import pytest
import yaml

from tests.e2e.scripts import DEPLOY, kubectl, run

NAMESPACE = "federation"
OWNER = "federation.k8s.io/federation-name"


@pytest.fixture
def output_root(tmp_path):
    return tmp_path / "federation-output"


@pytest.fixture
def env(clusters, output_root):
    return clusters.env(FEDERATION_OUTPUT_ROOT=str(output_root), FEDERATION_HOST_CLUSTER_CONTEXT=clusters.host, FEDERATION_WAIT_TIMEOUT="60")


def deploy(env, *args):
    init = run(DEPLOY, "init", env=env)
    assert init.returncode == 0, init.explain()
    result = run(DEPLOY, "deploy_federation", *args, env=env)
    assert result.returncode == 0, result.explain()
    return result


def kubeconfig_document(clusters):
    return yaml.safe_load(clusters.kubeconfig.read_text())


def token_of(host):
    secret = host.get_object("v1", "Secret", "federation-apiserver-tokens", NAMESPACE)
    return base64.b64decode(secret["data"]["token"]).decode()


def test_deploy_creates_control_plane(clusters, env):
    result = deploy(env)
    host = clusters.cluster(clusters.host)

    deployments = {item["metadata"]["name"]: item for item in host.objects("apps/v1", "Deployment", NAMESPACE)}
    assert set(deployments) == {"federation-apiserver", "federation-controller-manager"}
    for deployment in deployments.values():
        assert deployment["metadata"]["labels"]["app"] == "federated-cluster"
        assert deployment["metadata"]["labels"][OWNER] == "federation"
    apiserver = deployments["federation-apiserver"]["spec"]["template"]["spec"]["containers"][0]
    assert apiserver["image"] == "gcr.io/google-containers/hyperkube-amd64:v1.4.2"
    assert "--admission-control=NamespaceLifecycle" in apiserver["command"]
    assert "federation-apiserver" in result.stdout
    assert "READY" in result.stdout


def test_deploy_context_works_over_verified_tls(clusters, env):
    deploy(env)

    answer = kubectl("--context=federation-cluster", "get", "clusters", env=env)
    assert answer.returncode == 0, answer.explain()
    assert "No resources found" in answer.output

    document = kubeconfig_document(clusters)
    cluster = next(item for item in document["clusters"] if item["name"] == "federation-cluster")
    assert "certificate-authority-data" in cluster["cluster"]
    assert not cluster["cluster"].get("insecure-skip-tls-verify")
    assert document["current-context"] == clusters.host
    assert stat.S_IMODE(os.stat(clusters.kubeconfig).st_mode) == 0o600


def test_deploy_keeps_secrets_out_of_output(clusters, env, output_root):
    result = deploy(env)
    token = token_of(clusters.cluster(clusters.host))

    assert token not in result.output
    assert token not in (output_root / "values.yaml").read_text()


def test_deploy_twice_converges(clusters, env):
    deploy(env)
    host = clusters.cluster(clusters.host)
    first_token = token_of(host)
    first_ca = host.get_object("v1", "Secret", "federation-apiserver-ca", NAMESPACE)["data"]["ca.crt"]

    again = run(DEPLOY, "deploy_federation", env=env)

    assert again.returncode == 0, again.explain()
    assert "AlreadyExists" not in again.output
    assert "reusing the credentials" in again.stderr
    assert token_of(host) == first_token
    assert host.get_object("v1", "Secret", "federation-apiserver-ca", NAMESPACE)["data"]["ca.crt"] == first_ca


def test_destroy_leaves_nothing(clusters, env):
    deploy(env)

    result = run(DEPLOY, "destroy_federation", env=env)

    assert result.returncode == 0, result.explain()
    host = clusters.cluster(clusters.host)
    assert host.get_object("v1", "Namespace", NAMESPACE) is None
    for api_version, kind in (("apps/v1", "Deployment"), ("v1", "Secret"), ("v1", "Service"), ("v1", "PersistentVolumeClaim"), ("v1", "ConfigMap")):
        leftovers = [item for item in host.objects(api_version, kind) if (item["metadata"].get("labels") or {}).get(OWNER)]
        assert leftovers == [], f"{kind} left behind"
    document = kubeconfig_document(clusters)
    assert "federation-cluster" not in [item["name"] for item in document.get("contexts") or []]
    assert "federation-cluster" not in [item["name"] for item in document.get("users") or []]
    assert "federation-cluster" not in [item["name"] for item in document.get("clusters") or []]


def test_destroy_when_nothing_deployed(clusters, env, output_root):
    output_root.mkdir()

    result = run(DEPLOY, "destroy_federation", env=env)

    assert result.returncode == 0, result.explain()
    assert "nothing deployed" in result.stderr


def test_values_overrides_show_in_images_and_flags(clusters, env, output_root):
    output_root.mkdir()
    (output_root / "values.yaml").write_text(
        "# my settings\napiserverRegistry: 127.0.0.1:5000/fed\napiserverVersion: v9.9.9\ncontrollerManagerDNSZone: example.org\ncontrollerManagerFederationName: prod\n"
    )

    deploy(env)

    host = clusters.cluster(clusters.host)
    apiserver = host.get_object("apps/v1", "Deployment", "federation-apiserver", NAMESPACE)
    manager = host.get_object("apps/v1", "Deployment", "federation-controller-manager", NAMESPACE)
    assert apiserver["spec"]["template"]["spec"]["containers"][0]["image"] == "127.0.0.1:5000/fed/hyperkube-amd64:v9.9.9"
    assert manager["spec"]["template"]["spec"]["containers"][0]["image"] == "gcr.io/google-containers/hyperkube-amd64:v1.4.2"
    command = manager["spec"]["template"]["spec"]["containers"][0]["command"]
    assert "--zone-name=example.org" in command
    assert "--federation-name=prod" in command
    assert (output_root / "values.yaml").read_text().startswith("# my settings\n")


def test_no_default_storage_class_fails_fast(clusters, env):
    clusters.cluster(clusters.host).set_default_storage_class(False)

    init = run(DEPLOY, "init", env=env)
    assert init.returncode == 0, init.explain()
    result = run(DEPLOY, "deploy_federation", env=env)

    assert result.returncode == 4, result.explain()
    assert "no default StorageClass" in result.stderr
    assert "etcdStorage: emptyDir" in result.stderr
    assert clusters.cluster(clusters.host).get_object("v1", "Namespace", NAMESPACE) is None


def test_empty_dir_storage_needs_no_storage_class(clusters, env, output_root):
    clusters.cluster(clusters.host).set_default_storage_class(False)
    output_root.mkdir()
    (output_root / "values.yaml").write_text("etcdStorage: emptyDir\n")

    deploy(env)

    host = clusters.cluster(clusters.host)
    assert host.get_object("v1", "PersistentVolumeClaim", "federation-apiserver-etcd-claim", NAMESPACE) is None
    volumes = host.get_object("apps/v1", "Deployment", "federation-apiserver", NAMESPACE)["spec"]["template"]["spec"]["volumes"]
    assert {"name": "etcddata", "emptyDir": {}} in volumes


def test_dry_run_changes_nothing(clusters, env, output_root):
    output_root.mkdir()

    result = run(DEPLOY, "deploy_federation", "--dry-run", "-o", "json", env=env)

    assert result.returncode == 0, result.explain()
    plan = json.loads(result.stdout)
    actions = {change["target"]: change["action"] for step in plan["steps"] for change in step["changes"]}
    assert actions['Namespace "federation"'] == "create"
    assert actions['Deployment "federation/federation-apiserver"'] == "create"
    assert clusters.cluster(clusters.host).get_object("v1", "Namespace", NAMESPACE) is None
    assert "federation-cluster" not in clusters.kubeconfig.read_text()


def test_dry_run_after_deploy_reports_unchanged(clusters, env):
    deploy(env)

    result = run(DEPLOY, "deploy_federation", "--dry-run", env=env)

    assert result.returncode == 0, result.explain()
    assert 'unchanged  Deployment "federation/federation-apiserver"' in result.stdout
    assert 'unchanged  Secret "federation/federation-apiserver-tokens"' in result.stdout
    assert "unchanged  kubeconfig context, cluster and user 'federation-cluster'" in result.stdout


def test_destroy_dry_run_keeps_everything(clusters, env):
    deploy(env)

    result = run(DEPLOY, "destroy_federation", "--dry-run", env=env)

    assert result.returncode == 0, result.explain()
    assert 'delete     Namespace "federation"' in result.stdout
    assert clusters.cluster(clusters.host).get_object("v1", "Namespace", NAMESPACE) is not None


def test_redeploy_rolls_to_new_images(clusters, env, output_root):
    deploy(env)
    (output_root / "values.yaml").write_text((output_root / "values.yaml").read_text().replace('apiserverVersion: "v1.4.2"', 'apiserverVersion: "v1.5.0"'))

    result = run(DEPLOY, "redeploy_federation", env=env)

    assert result.returncode == 0, result.explain()
    apiserver = clusters.cluster(clusters.host).get_object("apps/v1", "Deployment", "federation-apiserver", NAMESPACE)
    assert apiserver["spec"]["template"]["spec"]["containers"][0]["image"].endswith(":v1.5.0")


def test_output_root_that_is_a_file_writes_nothing(clusters, env, output_root):
    output_root.write_text("not a directory")
    before = clusters.kubeconfig.read_bytes()

    result = run(DEPLOY, "deploy_federation", env=env)

    assert result.returncode == 3, result.explain()
    assert "FEDERATION_OUTPUT_ROOT" in result.stderr
    assert "Traceback" not in result.stderr
    assert clusters.kubeconfig.read_bytes() == before


def test_malformed_values_writes_nothing(clusters, env, output_root):
    output_root.mkdir()
    (output_root / "values.yaml").write_text("namespace: federation\napiserverVersion: [unclosed\n")

    result = run(DEPLOY, "deploy_federation", env=env)

    assert result.returncode == 3, result.explain()
    assert "values.yaml" in result.stderr
    assert "line" in result.stderr
    assert "Traceback" not in result.stderr
    assert clusters.cluster(clusters.host).get_object("v1", "Namespace", NAMESPACE) is None


def test_timeout_flag_checked_like_variable(clusters, env, output_root):
    output_root.mkdir()

    result = run(DEPLOY, "deploy_federation", "--timeout", "abc", env=env)

    assert result.returncode == 3, result.explain()
    assert "--timeout='abc'" in result.stderr


def test_federation_context_rejected_as_host(clusters, env):
    deploy(env)

    result = run(DEPLOY, "deploy_federation", env={**env, "FEDERATION_HOST_CLUSTER_CONTEXT": "federation-cluster"})

    assert result.returncode == 3, result.explain()
    assert "federation API server's own context" in result.stderr
