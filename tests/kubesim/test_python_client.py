"""The official kubernetes Python client against kubesim."""

from __future__ import annotations

import threading
import time

import pytest
from kubernetes import client, dynamic, utils, watch

from kubesim_helpers import wait_for


def configmap(name: str, labels: dict | None = None, data: dict | None = None) -> dict:
    return {"metadata": {"name": name, "labels": labels or {}}, "data": data or {"k": "v"}}


def deployment(name: str = "app", replicas: int = 1) -> dict:
    labels = {"app": name}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "labels": labels},
            "spec": {"replicas": replicas, "selector": {"matchLabels": labels}, "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": "main", "image": "busybox:1.36",
                                         "env": [{"name": "A", "value": "1"}]}]}}}}


def test_create_and_read_namespace(core, host):
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name="py-created")))

    read = core.read_namespace("py-created")
    assert read.status.phase == "Active"
    assert host.get_object("v1", "Namespace", "py-created")["metadata"]["uid"] == read.metadata.uid


def test_list_namespaces_includes_seeded(core):
    names = {n.metadata.name for n in core.list_namespace().items}

    assert {"default", "kube-system", "kube-public", "kube-node-lease"} <= names


def test_create_configmap_sets_metadata(core, namespace):
    created = core.create_namespaced_config_map(namespace, configmap("a"))

    assert created.metadata.uid
    assert int(created.metadata.resource_version) > 0
    assert created.metadata.creation_timestamp is not None


def test_resource_version_is_cluster_wide(core, namespace):
    first = core.create_namespaced_config_map(namespace, configmap("a"))
    second = core.create_namespaced_secret(namespace, {"metadata": {"name": "s"}, "stringData": {"x": "y"}})

    assert int(second.metadata.resource_version) > int(first.metadata.resource_version)


def test_secret_string_data_folded(core, namespace):
    secret = core.create_namespaced_secret(namespace, {"metadata": {"name": "s"}, "stringData": {"x": "y"}})

    assert secret.data == {"x": "eQ=="}
    assert secret.type == "Opaque"


def test_already_exists_409(core, namespace):
    core.create_namespaced_config_map(namespace, configmap("a"))

    with pytest.raises(client.ApiException) as raised:
        core.create_namespaced_config_map(namespace, configmap("a"))

    assert raised.value.status == 409
    assert '"reason": "AlreadyExists"' in raised.value.body


def test_stale_update_conflict_409(core, namespace):
    created = core.create_namespaced_config_map(namespace, configmap("a"))
    core.patch_namespaced_config_map("a", namespace, {"data": {"k": "changed"}})

    created.data = {"k": "stale"}
    with pytest.raises(client.ApiException) as raised:
        core.replace_namespaced_config_map("a", namespace, created)

    assert raised.value.status == 409
    assert '"reason": "Conflict"' in raised.value.body
    assert core.read_namespaced_config_map("a", namespace).data == {"k": "changed"}


def test_replace_with_current_version(core, namespace):
    created = core.create_namespaced_config_map(namespace, configmap("a"))
    created.data = {"k": "replaced"}

    replaced = core.replace_namespaced_config_map("a", namespace, created)

    assert replaced.data == {"k": "replaced"}
    assert int(replaced.metadata.resource_version) > int(created.metadata.resource_version)


def test_missing_object_404_status(core, namespace):
    with pytest.raises(client.ApiException) as raised:
        core.read_namespaced_config_map("missing", namespace)

    assert raised.value.status == 404
    assert '"kind": "Status"' in raised.value.body
    assert '"details": {"kind": "configmaps", "name": "missing"}' in raised.value.body


def test_missing_namespace_404(core):
    with pytest.raises(client.ApiException) as raised:
        core.create_namespaced_config_map("no-such-namespace", configmap("a"))

    assert raised.value.status == 404
    assert 'namespaces \\"no-such-namespace\\" not found' in raised.value.body


def test_missing_name_422(core, namespace):
    with pytest.raises(client.ApiException) as raised:
        core.create_namespaced_config_map(namespace, {"data": {"k": "v"}})

    assert raised.value.status == 422
    assert '"reason": "Invalid"' in raised.value.body


def test_generate_name(core, namespace):
    created = core.create_namespaced_config_map(namespace, {"metadata": {"generateName": "gen-"}})

    assert created.metadata.name.startswith("gen-")
    assert len(created.metadata.name) > len("gen-")


def test_dry_run_all_changes_nothing(core, host, namespace):
    version = host.store.resource_version

    result = core.create_namespaced_config_map(namespace, configmap("dry"), dry_run="All")

    assert result.metadata.name == "dry"
    assert host.get_object("v1", "ConfigMap", "dry", namespace) is None
    assert host.store.resource_version == version


def test_dry_run_delete_keeps_object(core, host, namespace):
    core.create_namespaced_config_map(namespace, configmap("kept"))

    core.delete_namespaced_config_map("kept", namespace, dry_run="All")

    assert host.get_object("v1", "ConfigMap", "kept", namespace) is not None


def test_label_selector(core, namespace):
    core.create_namespaced_config_map(namespace, configmap("a", {"tier": "web", "env": "prod"}))
    core.create_namespaced_config_map(namespace, configmap("b", {"tier": "db"}))
    core.create_namespaced_config_map(namespace, configmap("c", {"tier": "web"}))

    def names(selector: str) -> list[str]:
        return [c.metadata.name for c in core.list_namespaced_config_map(namespace, label_selector=selector).items]

    assert names("tier=web") == ["a", "c"]
    assert names("tier!=web") == ["b", "kube-root-ca.crt"]  # != also matches objects without the label
    assert names("tier in (db, web),env") == ["a"]
    assert names("!env,tier") == ["b", "c"]


def test_field_selector(core, namespace):
    core.create_namespaced_config_map(namespace, configmap("a"))
    core.create_namespaced_config_map(namespace, configmap("b"))

    items = core.list_namespaced_config_map(namespace, field_selector="metadata.name=b").items
    across = core.list_config_map_for_all_namespaces(field_selector=f"metadata.namespace={namespace}").items

    assert [c.metadata.name for c in items] == ["b"]
    assert sorted(c.metadata.name for c in across) == ["a", "b", "kube-root-ca.crt"]


def test_field_selector_status_phase(core, apps, namespace):
    apps.create_namespaced_deployment(namespace, deployment(replicas=2))
    wait_for(lambda: len(core.list_namespaced_pod(namespace, field_selector="status.phase=Running").items) == 2,
             what="two Running pods")

    pending = core.list_namespaced_pod(namespace, field_selector="status.phase=Pending").items
    assert pending == []


def test_patch_merge_and_strategic(apps, namespace):
    apps.create_namespaced_deployment(namespace, deployment())

    patched = apps.patch_namespaced_deployment("app", namespace, {"spec": {"template": {"spec": {
        "containers": [{"name": "main", "env": [{"name": "B", "value": "2"}]}]}}}})

    env = patched.spec.template.spec.containers[0].env
    assert [(e.name, e.value) for e in env] == [("A", "1"), ("B", "2")]
    assert patched.metadata.generation == 2


def test_watch_from_resource_version(core, namespace):
    created = core.create_namespaced_config_map(namespace, configmap("w"))

    def change_later() -> None:
        time.sleep(0.2)
        core.patch_namespaced_config_map("w", namespace, {"data": {"k": "new"}})

    threading.Thread(target=change_later).start()
    events = []
    stream = watch.Watch()
    for event in stream.stream(core.list_namespaced_config_map, namespace,
                               resource_version=created.metadata.resource_version, timeout_seconds=3):
        events.append((event["type"], event["object"].data))
        stream.stop()

    assert events == [("MODIFIED", {"k": "new"})]


def test_watch_without_version_lists_then_times_out(core, namespace):
    core.create_namespaced_config_map(namespace, configmap("x"))
    started = time.monotonic()

    events = [(e["type"], e["object"].metadata.name) for e in watch.Watch().stream(
        core.list_namespaced_config_map, namespace, timeout_seconds=1)]

    assert ("ADDED", "x") in events
    assert time.monotonic() - started < 5


def test_watch_delete_event(core, namespace):
    created = core.create_namespaced_config_map(namespace, configmap("gone"))
    core.delete_namespaced_config_map("gone", namespace)

    events = []
    stream = watch.Watch()
    for event in stream.stream(core.list_namespaced_config_map, namespace,
                               resource_version=created.metadata.resource_version, timeout_seconds=2):
        events.append(event["type"])
        stream.stop()

    assert events == ["DELETED"]


def test_create_from_yaml(api_client, host, namespace, tmp_path):
    manifest = tmp_path / "objects.yaml"
    manifest.write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: from-yaml}\ndata: {a: b}\n---\n"
        "apiVersion: v1\nkind: Service\nmetadata: {name: svc}\nspec: {selector: {app: x}, ports: [{port: 80}]}\n")

    utils.create_from_yaml(api_client, str(manifest), namespace=namespace)

    assert host.get_object("v1", "ConfigMap", "from-yaml", namespace)["data"] == {"a": "b"}
    assert host.get_object("v1", "Service", "svc", namespace)["spec"]["clusterIP"].startswith("10.")


def test_dynamic_server_side_apply(api_client, host, namespace):
    resource = dynamic.DynamicClient(api_client).resources.get(api_version="apps/v1", kind="Deployment")
    body = deployment()
    body["metadata"]["namespace"] = namespace

    resource.server_side_apply(body=body, field_manager="python-e2e", namespace=namespace)
    body["spec"]["replicas"] = 2
    applied = resource.server_side_apply(body=body, field_manager="python-e2e", namespace=namespace)

    assert applied.spec.replicas == 2
    stored = host.get_object("apps/v1", "Deployment", "app", namespace)
    assert [m["manager"] for m in stored["metadata"]["managedFields"]] == ["python-e2e"]


def test_status_subresource(core, apps, namespace):
    apps.create_namespaced_deployment(namespace, deployment())
    # The status stays unset until the simulated deployment controller's first pass.
    wait_for(lambda: (getattr(apps.read_namespaced_deployment_status("app", namespace).status, "ready_replicas", 0) or 0) == 1,
             what="the deployment to be ready")

    status = apps.read_namespaced_deployment_status("app", namespace).status
    conditions = {c.type: c.status for c in status.conditions}
    assert conditions == {"Available": "True", "Progressing": "True"}
    assert status.observed_generation == 1


def test_status_write_ignores_spec(core, namespace, host):
    core.create_namespaced_persistent_volume_claim(namespace, {
        "metadata": {"name": "claim"}, "spec": {"accessModes": ["ReadWriteOnce"], "storageClassName": "none",
                                                "resources": {"requests": {"storage": "1Gi"}}}})

    core.patch_namespaced_persistent_volume_claim_status("claim", namespace, {
        "spec": {"storageClassName": "changed"}, "status": {"phase": "Lost"}})

    stored = host.get_object("v1", "PersistentVolumeClaim", "claim", namespace)
    assert stored["status"]["phase"] == "Lost"
    assert stored["spec"]["storageClassName"] == "none"


def test_scale_subresource(apps, host, namespace):
    apps.create_namespaced_deployment(namespace, deployment())

    apps.patch_namespaced_deployment_scale("app", namespace, {"spec": {"replicas": 3}})

    assert apps.read_namespaced_deployment_scale("app", namespace).spec.replicas == 3
    wait_for(lambda: len(host.objects("v1", "Pod", namespace)) == 3, what="three pods")


def test_delete_collection_with_selector(core, host, namespace):
    core.create_namespaced_config_map(namespace, configmap("a", {"drop": "yes"}))
    core.create_namespaced_config_map(namespace, configmap("b", {"drop": "yes"}))
    core.create_namespaced_config_map(namespace, configmap("c"))

    core.delete_collection_namespaced_config_map(namespace, label_selector="drop=yes")

    names = {c["metadata"]["name"] for c in host.objects("v1", "ConfigMap", namespace)}
    assert names == {"c", "kube-root-ca.crt"}


def test_delete_deployment_orphan(apps, host, namespace):
    apps.create_namespaced_deployment(namespace, deployment())
    wait_for(lambda: host.objects("v1", "Pod", namespace), what="a pod")

    apps.delete_namespaced_deployment("app", namespace, propagation_policy="Orphan")

    replica_sets = host.objects("apps/v1", "ReplicaSet", namespace)
    assert len(replica_sets) == 1
    assert replica_sets[0]["metadata"].get("ownerReferences", []) == []


def test_delete_deployment_cascades(apps, host, namespace):
    apps.create_namespaced_deployment(namespace, deployment())
    wait_for(lambda: host.objects("v1", "Pod", namespace), what="a pod")

    apps.delete_namespaced_deployment("app", namespace, propagation_policy="Foreground")

    wait_for(lambda: not host.objects("v1", "Pod", namespace), what="pods to go")
    assert host.objects("apps/v1", "ReplicaSet", namespace) == []


def test_rbac_objects(api_client, host, namespace):
    rbac = client.RbacAuthorizationV1Api(api_client)
    rbac.create_cluster_role_binding({
        "metadata": {"name": f"{namespace}-admin"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cluster-admin"},
        "subjects": [{"kind": "ServiceAccount", "name": "default", "namespace": namespace}]})

    assert host.get_object("rbac.authorization.k8s.io/v1", "ClusterRoleBinding", f"{namespace}-admin") is not None
    assert rbac.read_cluster_role("cluster-admin").rules[0].verbs == ["*"]


def test_nodes_and_version(api_client):
    nodes = client.CoreV1Api(api_client).list_node().items
    version = client.VersionApi(api_client).get_code()

    assert [n.metadata.name for n in nodes] == ["host-control-plane"]
    assert {a.type: a.address for a in nodes[0].status.addresses}["InternalIP"] == "127.0.0.1"
    assert version.major == "1"
