"""Secrets stay out of output and logs, files holding them are 0600, and TLS is verified."""

from __future__ import annotations

import base64
import os
import stat
import time

import yaml

from federation.core.credentials import generate_ca
from tests.e2e.scripts import DEPLOY, FEDERATION_UP, KUBEFED, run
from tests.e2e.test_federation_up import DOCS_ENV, store_member_kubeconfigs
from tests.reliability.support import object_keys, secret_values


def cluster_credentials(clusters) -> set[str]:
    """Return the simulated clusters' own tokens and client keys, as the kubeconfig holds them."""
    found = set()
    for cluster in clusters.sim:
        if cluster.token:
            found.add(cluster.token)
        key = cluster.client_key_pem.decode() if isinstance(cluster.client_key_pem, bytes) else cluster.client_key_pem
        found.add(base64.b64encode(key.encode()).decode())
        found.update(line for line in key.splitlines() if not line.startswith("-----"))
    return found


def all_secrets(clusters) -> set[str]:
    found = cluster_credentials(clusters)
    for cluster in clusters.sim:
        found |= secret_values(cluster)
    return found


def leaked(secrets: set[str], text: str) -> list[str]:
    """Return the secrets that appear in ``text``, shortened so the failure message leaks nothing useful."""
    return sorted(f"{value[:4]}...({len(value)} chars)" for value in secrets if value in text)


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_deploy_and_join_keep_secrets_out_of_output(clusters, tmp_path):
    output_root = tmp_path / "output"
    env = clusters.env(FEDERATION_OUTPUT_ROOT=str(output_root), FEDERATION_HOST_CLUSTER_CONTEXT=clusters.host, FEDERATION_CLUSTERS=",".join(clusters.members), FEDERATION_WAIT_TIMEOUT="60")
    outputs = []
    for action, verbosity in (("init", "-v"), ("deploy_federation", "-vv"), ("deploy_federation", "-v"), ("join_clusters", "-vv"), ("redeploy_federation", "-vv")):
        result = run(DEPLOY, action, verbosity, env=env)
        assert result.returncode == 0, result.explain()
        outputs.append(result.output)
    joined = run(KUBEFED, "join", "sa-member", f"--cluster-context={clusters.members[1]}", f"--host-cluster-context={clusters.host}", "--federation-system-namespace=federation", "--credentials=serviceaccount", "--timeout=60", "-vv", env=env)
    assert joined.returncode == 0, joined.explain()
    outputs.append(joined.output)

    secrets = all_secrets(clusters)

    assert len(secrets) > 10, "the clusters hold fewer credentials than a deployed, joined federation has"
    for text in outputs:
        assert leaked(secrets, text) == []
    for path in output_root.rglob("*"):
        if path.is_file():
            assert leaked(secrets, path.read_text(errors="replace")) == [], path


def test_federation_up_keeps_secrets_out_of_output(clusters):
    store_member_kubeconfigs(clusters)

    result = run(FEDERATION_UP, "-vv", env=clusters.env(**DOCS_ENV))

    assert result.returncode == 0, result.explain()
    assert leaked(all_secrets(clusters), result.output) == []


def test_kubeconfig_and_backup_are_private(clusters, tmp_path):
    os.chmod(clusters.kubeconfig, 0o644)
    env = clusters.env(FEDERATION_OUTPUT_ROOT=str(tmp_path / "output"), FEDERATION_HOST_CLUSTER_CONTEXT=clusters.host, FEDERATION_WAIT_TIMEOUT="60")

    for action in ("init", "deploy_federation"):
        result = run(DEPLOY, action, env=env)
        assert result.returncode == 0, result.explain()

    assert mode(clusters.kubeconfig) == 0o600
    assert mode(f"{clusters.kubeconfig}.bak") == 0o600


def replace_host_tls(clusters, path, change) -> None:
    """Write a copy of the kubeconfig to ``path`` with ``change(cluster_entry)`` applied to the host's cluster."""
    document = yaml.safe_load(clusters.kubeconfig.read_text())
    context = next(item for item in document["contexts"] if item["name"] == clusters.host)
    entry = next(item for item in document["clusters"] if item["name"] == context["context"]["cluster"])
    change(entry["cluster"])
    path.write_text(yaml.safe_dump(document))


def test_wrong_ca_fails_with_tls_message(clusters, tmp_path):
    kubeconfig = tmp_path / "wrong-ca"
    other_ca = base64.b64encode(generate_ca("not-the-cluster-ca").cert_pem).decode()
    replace_host_tls(clusters, kubeconfig, lambda cluster: cluster.update({"certificate-authority-data": other_ca}))
    host = clusters.cluster(clusters.host)
    before = object_keys(host)
    env = clusters.env(KUBECONFIG=str(kubeconfig), FEDERATION_OUTPUT_ROOT=str(tmp_path / "output"), FEDERATION_HOST_CLUSTER_CONTEXT=clusters.host, FEDERATION_WAIT_TIMEOUT="20")
    assert run(DEPLOY, "init", env=env).returncode == 0

    started = time.monotonic()
    result = run(DEPLOY, "deploy_federation", env=env)
    elapsed = time.monotonic() - started

    assert result.returncode == 4, result.explain()
    assert "TLS certificate verification failed" in result.stderr
    assert "Traceback" not in result.stderr
    assert object_keys(host) == before
    assert elapsed < 5, f"a certificate that does not verify is not transient, but the run took {elapsed:.1f}s"


def test_insecure_skip_tls_verify_honoured(clusters, tmp_path):
    kubeconfig = tmp_path / "insecure"

    def insecure(cluster: dict) -> None:
        cluster.pop("certificate-authority-data", None)
        cluster["insecure-skip-tls-verify"] = True

    replace_host_tls(clusters, kubeconfig, insecure)
    env = clusters.env(KUBECONFIG=str(kubeconfig), FEDERATION_OUTPUT_ROOT=str(tmp_path / "output"), FEDERATION_HOST_CLUSTER_CONTEXT=clusters.host, FEDERATION_WAIT_TIMEOUT="20")
    assert run(DEPLOY, "init", env=env).returncode == 0

    result = run(DEPLOY, "deploy_federation", "--dry-run", env=env)

    assert result.returncode == 0, result.explain()
