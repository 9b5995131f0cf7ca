"""kubectl 1.37 commands against kubesim; each test checks the effect in the store."""

from __future__ import annotations

import base64
import ipaddress
import json

import yaml

from kubesim_helpers import wait_for

DEPLOYMENT = """
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels: {{app: web}}
spec:
  replicas: {replicas}
  selector: {{matchLabels: {{app: web}}}}
  template:
    metadata: {{labels: {{app: web}}}}
    spec:
      containers:
      - name: web
        image: {image}
        env: [{{name: A, value: "1"}}, {{name: B, value: "2"}}]
        ports: [{{containerPort: 80}}]
"""


def deployment_yaml(replicas: int = 1, image: str = "nginx:1.25") -> str:
    return DEPLOYMENT.format(replicas=replicas, image=image)


def test_create_namespace(kubectl, host):
    kubectl("create", "namespace", "created-by-kubectl")

    namespace = host.get_object("v1", "Namespace", "created-by-kubectl")
    assert namespace["status"]["phase"] == "Active"
    assert namespace["metadata"]["labels"]["kubernetes.io/metadata.name"] == "created-by-kubectl"


def test_create_secret_from_file(kubectl, host, namespace, tmp_path):
    (tmp_path / "known-tokens.csv").write_text("token,user,uid\n")

    kubectl("create", "secret", "generic", "creds", "-n", namespace,
            f"--from-file={tmp_path / 'known-tokens.csv'}", "--from-literal=extra=value")

    secret = host.get_object("v1", "Secret", "creds", namespace)
    assert secret["type"] == "Opaque"
    assert base64.b64decode(secret["data"]["known-tokens.csv"]) == b"token,user,uid\n"
    assert base64.b64decode(secret["data"]["extra"]) == b"value"


def test_create_secret_tls_type(kubectl, host, namespace, tmp_path):
    pair = host.ca.issue("x", server=True)
    (tmp_path / "tls.crt").write_bytes(pair.cert_pem)
    (tmp_path / "tls.key").write_bytes(pair.key_pem)

    kubectl("create", "secret", "tls", "tls", "-n", namespace, f"--cert={tmp_path / 'tls.crt'}",
            f"--key={tmp_path / 'tls.key'}")

    secret = host.get_object("v1", "Secret", "tls", namespace)
    assert secret["type"] == "kubernetes.io/tls"
    assert base64.b64decode(secret["data"]["tls.crt"]) == pair.cert_pem


def test_create_configmap(kubectl, host, namespace):
    kubectl("create", "configmap", "settings", "-n", namespace, "--from-literal=Corefile=.:53 {}")

    configmap = host.get_object("v1", "ConfigMap", "settings", namespace)
    assert configmap["data"] == {"Corefile": ".:53 {}"}
    assert configmap["metadata"]["managedFields"][0]["manager"] == "kubectl-create"


def test_create_serviceaccount(kubectl, host, namespace):
    kubectl("create", "serviceaccount", "robot", "-n", namespace)

    assert host.get_object("v1", "ServiceAccount", "robot", namespace) is not None


def test_apply_with_default_validation(kubectl, host, namespace):
    result = kubectl("apply", "-n", namespace, "-f", "-", input=deployment_yaml(replicas=2))

    assert "deployment.apps/web created" in result.stdout
    deployment = host.get_object("apps/v1", "Deployment", "web", namespace)
    assert deployment["spec"]["replicas"] == 2
    assert "kubectl.kubernetes.io/last-applied-configuration" in deployment["metadata"]["annotations"]


def test_apply_twice_updates_template(kubectl, host, namespace):
    kubectl("apply", "-n", namespace, "-f", "-", input=deployment_yaml())
    kubectl("apply", "-n", namespace, "-f", "-", input=deployment_yaml(image="nginx:1.26"))

    deployment = host.get_object("apps/v1", "Deployment", "web", namespace)
    assert deployment["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.26"
    assert deployment["metadata"]["generation"] == 2
    kubectl("rollout", "status", "deployment/web", "-n", namespace, "--timeout=10s")
    pods = host.objects("v1", "Pod", namespace)
    assert [p["spec"]["containers"][0]["image"] for p in pods] == ["nginx:1.26"]


def test_apply_server_side(kubectl, host, namespace):
    kubectl("apply", "--server-side", "--field-manager=e2e", "-n", namespace, "-f", "-", input=deployment_yaml())

    deployment = host.get_object("apps/v1", "Deployment", "web", namespace)
    managers = {(m["manager"], m["operation"]) for m in deployment["metadata"]["managedFields"]}
    assert ("e2e", "Apply") in managers
    assert "last-applied-configuration" not in json.dumps(deployment["metadata"].get("annotations", {}))


def test_apply_server_side_conflict_and_force(kubectl, host, namespace):
    kubectl("apply", "--server-side", "--field-manager=first", "-n", namespace, "-f", "-", input=deployment_yaml())

    conflict = kubectl("apply", "--server-side", "--field-manager=second", "-n", namespace, "-f", "-",
                       input=deployment_yaml(replicas=3), check=False)
    assert conflict.returncode != 0
    assert 'conflict with "first"' in conflict.stderr
    assert host.get_object("apps/v1", "Deployment", "web", namespace)["spec"]["replicas"] == 1

    kubectl("apply", "--server-side", "--force-conflicts", "--field-manager=second", "-n", namespace, "-f", "-",
            input=deployment_yaml(replicas=3))
    assert host.get_object("apps/v1", "Deployment", "web", namespace)["spec"]["replicas"] == 3


def test_patch_merge(kubectl, host, namespace):
    kubectl("create", "configmap", "cm", "-n", namespace, "--from-literal=a=1")

    kubectl("patch", "configmap", "cm", "-n", namespace, "--type=merge", "-p", '{"data":{"b":"2","a":null}}')

    assert host.get_object("v1", "ConfigMap", "cm", namespace)["data"] == {"b": "2"}


def test_patch_strategic_keeps_other_env(kubectl, host, namespace):
    kubectl("apply", "-n", namespace, "-f", "-", input=deployment_yaml())

    kubectl("patch", "deployment", "web", "-n", namespace, "-p",
            '{"spec":{"template":{"spec":{"containers":[{"name":"web","env":[{"name":"C","value":"3"}]}]}}}}')

    container = host.get_object("apps/v1", "Deployment", "web", namespace)["spec"]["template"]["spec"]["containers"][0]
    assert container["env"] == [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}, {"name": "C", "value": "3"}]
    assert container["ports"] == [{"containerPort": 80, "protocol": "TCP"}]


def test_patch_json(kubectl, host, namespace):
    kubectl("apply", "-n", namespace, "-f", "-", input=deployment_yaml())

    kubectl("patch", "deployment", "web", "-n", namespace, "--type=json", "-p",
            '[{"op":"add","path":"/spec/template/spec/containers/0/args","value":["--federations=f=example.com"]}]')

    container = host.get_object("apps/v1", "Deployment", "web", namespace)["spec"]["template"]["spec"]["containers"][0]
    assert container["args"] == ["--federations=f=example.com"]


def test_label_and_get_by_selector(kubectl, host, namespace):
    kubectl("create", "configmap", "one", "-n", namespace)
    kubectl("create", "configmap", "two", "-n", namespace)

    kubectl("label", "configmap", "one", "-n", namespace, "tier=front")

    assert host.get_object("v1", "ConfigMap", "one", namespace)["metadata"]["labels"] == {"tier": "front"}
    names = kubectl("get", "configmaps", "-n", namespace, "-l", "tier=front", "-o", "name").stdout.split()
    assert names == ["configmap/one"]


def test_annotate(kubectl, host, namespace):
    kubectl("create", "configmap", "one", "-n", namespace)

    kubectl("annotate", "configmap", "one", "-n", namespace, "owner=federation")

    assert host.get_object("v1", "ConfigMap", "one", namespace)["metadata"]["annotations"] == {"owner": "federation"}


def test_get_jsonpath(kubectl, host):
    cluster_ip = kubectl("get", "service", "kube-dns", "-n", "kube-system", "-o", "jsonpath={.spec.clusterIP}").stdout

    assert cluster_ip == host.get_object("v1", "Service", "kube-dns", "kube-system")["spec"]["clusterIP"]


def test_get_yaml(kubectl, host):
    document = yaml.safe_load(kubectl("get", "configmap", "coredns", "-n", "kube-system", "-o", "yaml").stdout)

    assert document["data"]["Corefile"] == host.get_object("v1", "ConfigMap", "coredns", "kube-system")["data"][
        "Corefile"]
    assert document["data"]["Corefile"].startswith(".:53 {\n\terrors\n")


def test_get_table_columns(kubectl):
    output = kubectl("get", "deployments", "-n", "kube-system").stdout

    header, row = output.splitlines()[:2]
    assert header.split() == ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"]
    assert row.split()[:4] == ["coredns", "2/2", "2", "2"]


def test_wait_for_available(kubectl, host, namespace):
    kubectl("apply", "-n", namespace, "-f", "-", input=deployment_yaml(replicas=2))

    result = kubectl("wait", "--for=condition=Available", "deployment/web", "-n", namespace, "--timeout=10s")

    assert "condition met" in result.stdout
    assert host.get_object("apps/v1", "Deployment", "web", namespace)["status"]["availableReplicas"] == 2


def test_rollout_status(kubectl, host, namespace):
    kubectl("apply", "-n", namespace, "-f", "-", input=deployment_yaml(replicas=3))

    result = kubectl("rollout", "status", "deployment/web", "-n", namespace, "--timeout=10s")

    assert "successfully rolled out" in result.stdout
    assert len(host.objects("v1", "Pod", namespace)) == 3


def test_scale(kubectl, host, namespace):
    kubectl("apply", "-n", namespace, "-f", "-", input=deployment_yaml())

    kubectl("scale", "deployment/web", "-n", namespace, "--replicas=4")

    assert host.get_object("apps/v1", "Deployment", "web", namespace)["spec"]["replicas"] == 4
    wait_for(lambda: len(host.objects("v1", "Pod", namespace)) == 4, what="4 pods")


def test_diff_shows_change(kubectl, host, namespace):
    kubectl("apply", "-n", namespace, "-f", "-", input=deployment_yaml())

    same = kubectl("diff", "-n", namespace, "-f", "-", input=deployment_yaml(), check=False)
    changed = kubectl("diff", "-n", namespace, "-f", "-", input=deployment_yaml(image="nginx:9"), check=False)

    assert same.returncode == 0, same.stderr
    assert changed.returncode == 1, changed.stderr
    assert "+        image: nginx:9" in changed.stdout
    image = host.get_object("apps/v1", "Deployment", "web", namespace)["spec"]["template"]["spec"]["containers"][0][
        "image"]
    assert image == "nginx:1.25"


def test_delete_by_name(kubectl, host, namespace):
    kubectl("create", "configmap", "doomed", "-n", namespace)

    kubectl("delete", "configmap", "doomed", "-n", namespace)

    assert host.get_object("v1", "ConfigMap", "doomed", namespace) is None


def test_delete_by_file(kubectl, host, namespace, tmp_path):
    manifest = tmp_path / "deployment.yaml"
    manifest.write_text(deployment_yaml())
    kubectl("apply", "-n", namespace, "-f", str(manifest))

    kubectl("delete", "-n", namespace, "-f", str(manifest))

    assert host.get_object("apps/v1", "Deployment", "web", namespace) is None
    wait_for(lambda: not host.objects("v1", "Pod", namespace), what="pods to be deleted with their Deployment")
    assert host.objects("apps/v1", "ReplicaSet", namespace) == []


def test_delete_by_label(kubectl, host, namespace):
    for name, tier in (("a", "x"), ("b", "x"), ("c", "y")):
        host.put_object({"apiVersion": "v1", "kind": "ConfigMap",
                         "metadata": {"name": name, "namespace": namespace, "labels": {"tier": tier}}})

    kubectl("delete", "configmaps", "-n", namespace, "-l", "tier=x")

    names = [c["metadata"]["name"] for c in host.objects("v1", "ConfigMap", namespace)]
    assert "c" in names
    assert "a" not in names
    assert "b" not in names


def test_delete_namespace_waits(kubectl, host):
    kubectl("create", "namespace", "going-away")
    kubectl("create", "configmap", "content", "-n", "going-away")

    kubectl("delete", "namespace", "going-away", "--timeout=10s")

    assert host.get_object("v1", "Namespace", "going-away") is None
    assert host.objects("v1", "ConfigMap", "going-away") == []


def test_config_set_commands_and_flatten(kubectl, shared_sim, tmp_path):
    target = tmp_path / "built.kubeconfig"
    for cluster in shared_sim:
        ca_file = tmp_path / f"{cluster.name}.crt"
        ca_file.write_text(cluster.ca_pem)
        kubectl("config", "set-cluster", cluster.name, f"--kubeconfig={target}", f"--server={cluster.url}",
                f"--certificate-authority={ca_file}", "--embed-certs=true")
        kubectl("config", "set-credentials", cluster.name, f"--kubeconfig={target}",
                f"--token={cluster.token or 'unused'}")
        kubectl("config", "set-context", cluster.name, f"--kubeconfig={target}", f"--cluster={cluster.name}",
                f"--user={cluster.name}")

    flattened = {}
    for cluster in shared_sim:
        view = kubectl("config", "view", "--minify", "--flatten", f"--kubeconfig={target}",
                       f"--context={cluster.name}").stdout
        flattened[cluster.name] = yaml.safe_load(view)

    assert set(flattened) == {"host", "member1", "member2"}
    member1 = flattened["member1"]
    assert member1["clusters"][0]["cluster"]["server"] == shared_sim["member1"].url
    assert base64.b64decode(member1["clusters"][0]["cluster"]["certificate-authority-data"]).decode() == \
        shared_sim["member1"].ca_pem
    namespaces = kubectl("get", "namespaces", "-o", "name", f"--kubeconfig={target}", "--context=member1").stdout
    assert "namespace/kube-system" in namespaces.split()


def test_config_view_minify_default_kubeconfig(kubectl, shared_sim):
    view = yaml.safe_load(kubectl("config", "view", "--minify", "--flatten", context="member2").stdout)

    assert view["contexts"][0]["name"] == "member2"
    assert view["clusters"][0]["cluster"]["server"] == shared_sim["member2"].url


def test_get_raw_healthz(kubectl):
    assert kubectl("get", "--raw", "/healthz").stdout == "ok"
    assert kubectl("get", "--raw", "/readyz").stdout == "ok"


def test_api_resources(kubectl):
    output = kubectl("api-resources", "-o", "name").stdout.split()

    for name in ("namespaces", "pods", "deployments.apps", "storageclasses.storage.k8s.io",
                 "clusterrolebindings.rbac.authorization.k8s.io", "customresourcedefinitions.apiextensions.k8s.io"):
        assert name in output


def test_get_events(kubectl, host, namespace):
    host.set_default_storage_class(False)
    try:
        kubectl("apply", "-n", namespace, "-f", "-", input=yaml.safe_dump({
            "apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "data"},
            "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}))
        wait_for(lambda: host.objects("v1", "Event", namespace), what="an event")
        output = kubectl("get", "events", "-n", namespace).stdout
    finally:
        host.set_default_storage_class(True)

    assert "FailedBinding" in output
    assert "no persistent volumes available for this claim and no storage class is set" in output


def test_dry_run_server(kubectl, host, namespace):
    result = kubectl("create", "configmap", "ghost", "-n", namespace, "--dry-run=server", "-o", "yaml")

    assert yaml.safe_load(result.stdout)["metadata"]["name"] == "ghost"
    assert host.get_object("v1", "ConfigMap", "ghost", namespace) is None


def test_apply_dry_run_server(kubectl, host, namespace):
    kubectl("apply", "-n", namespace, "--dry-run=server", "-f", "-", input=deployment_yaml())

    assert host.get_object("apps/v1", "Deployment", "web", namespace) is None


def test_get_not_found_message(kubectl, namespace):
    result = kubectl("get", "configmap", "missing", "-n", namespace, check=False)

    assert result.returncode == 1
    assert 'configmaps "missing" not found' in result.stderr


def test_create_in_missing_namespace(kubectl):
    result = kubectl("create", "configmap", "x", "-n", "does-not-exist", check=False)

    assert result.returncode == 1
    assert 'namespaces "does-not-exist" not found' in result.stderr


def test_member_context_with_token(kubectl, shared_sim):
    kubectl("create", "namespace", "on-member1", context="member1")

    assert shared_sim["member1"].get_object("v1", "Namespace", "on-member1") is not None
    assert shared_sim["host"].get_object("v1", "Namespace", "on-member1") is None


def test_expose_loadbalancer_service(kubectl, host, namespace):
    kubectl("apply", "-n", namespace, "-f", "-", input=deployment_yaml())
    kubectl("expose", "deployment", "web", "-n", namespace, "--type=LoadBalancer", "--port=80")

    service = wait_for(lambda: (s := host.get_object("v1", "Service", "web", namespace))
                       and s["status"]["loadBalancer"].get("ingress") and s, what="an ingress address")
    ip = kubectl("get", "service", "web", "-n", namespace, "-o",
                 "jsonpath={.status.loadBalancer.ingress[0].ip}").stdout
    assert ip == service["status"]["loadBalancer"]["ingress"][0]["ip"]
    assert ipaddress.ip_address(ip).is_loopback


def test_get_watch_only_sees_change(kubectl, host, namespace):
    kubectl("create", "configmap", "watched", "-n", namespace)

    result = kubectl("get", "configmap", "watched", "-n", namespace, "--watch-only", "--request-timeout=1s",
                     "-o", "name", check=False)

    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
