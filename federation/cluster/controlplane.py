"""The federation control plane's objects, rendered from the manifests as pure functions.

The direct mechanism renders ``federation/manifests/federation-*.yaml`` with
the placeholder names of the original manifests; ``USE_KUBEFED=true`` renders
``federation/manifests/kubefed/*.yaml``, which reproduce the objects that
``kubefed init`` created. Every object gets the ownership labels, so
federation-down.sh deletes exactly these.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path

import yaml

from federation.cluster.apiserver_credentials import ApiserverCredentials, apiserver_secret_values, b64, ca_secret_data, is_ip
from federation.cluster.settings import UpSettings
from federation.core.apply import ownership_labels
from federation.core.render import OMIT, render, render_one

DNS_PROVIDER_SECRET = "federation-dns-provider.conf"
DNS_PROVIDER_MOUNT = "/etc/federation/dns-provider"
CONTROLLER_MANAGER_ACCOUNT = "federation-controller-manager"


@dataclass(frozen=True)
class Endpoint:
    """The address and port at which clients outside the host cluster reach the federation API server."""

    host: str  # an IP address or a DNS name
    port: int

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"https://{host}:{self.port}"


def namespace(settings: UpSettings) -> dict:
    name = "kubefed/namespace.yaml" if settings.use_kubefed else "federation-ns.yaml"
    return _owned(render_one(name, _names(settings)), settings)


def service(settings: UpSettings) -> dict:
    values = {**_names(settings), "FEDERATION_API_NODEPORT": settings.node_port}
    if settings.use_kubefed:
        values["FEDERATION_API_SERVICE_TYPE"] = settings.service_type
        if settings.service_type != "NodePort":
            values["FEDERATION_API_NODEPORT"] = OMIT
        return _owned(render_one("kubefed/apiserver-service.yaml", values), settings)

    template = "federation-apiserver-lb-service.yaml" if settings.service_type == "LoadBalancer" else "federation-apiserver-nodeport-service.yaml"
    return _owned(render_one(template, values), settings)


def ca_secret_name(settings: UpSettings) -> str:
    return f"{settings.apiserver_name}-ca"


def apiserver_secret_name(settings: UpSettings) -> str:
    return f"{settings.federation_name}-apiserver-credentials" if settings.use_kubefed else "federation-apiserver-secrets"


def controller_manager_kubeconfig_secret_name(settings: UpSettings) -> str:
    return f"{settings.federation_name}-controller-manager-kubeconfig" if settings.use_kubefed else "federation-apiserver-kubeconfig"


def ca_secret(settings: UpSettings, creds: ApiserverCredentials) -> dict:
    """Return the Secret that keeps the CA key between runs; no pod mounts it."""
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": ca_secret_name(settings), "namespace": settings.namespace, "labels": {}},
        "type": "Opaque",
        "data": ca_secret_data(creds.ca),
    }
    return _owned(secret, settings)


def storage(settings: UpSettings) -> list[dict]:
    """Return the etcd PersistentVolumeClaim, or nothing when etcd keeps its data in an emptyDir."""
    if not settings.use_pv_for_etcd:
        return []
    name = "kubefed/etcd-pvc.yaml" if settings.use_kubefed else "federation-etcd-pvc.yaml"
    return [_owned(render_one(name, _names(settings)), settings)]


def control_plane(settings: UpSettings, creds: ApiserverCredentials, endpoint: Endpoint, dns_provider_config: bytes | None) -> list[dict]:
    """Return the Secrets, RBAC objects and Deployments of the API server and the controller manager."""
    values = {
        **_names(settings),
        **apiserver_secret_values(creds),
        "FEDERATION_APISERVER_ADVERTISE_ADDRESS_FLAG": f"--advertise-address={endpoint.host}" if is_ip(endpoint.host) else OMIT,
        "FEDERATION_CONTROLLER_MANAGER_KUBECONFIG_BASE64": b64(yaml.safe_dump(controller_manager_kubeconfig(settings, creds), sort_keys=False)),
        **_dns_provider_values(settings, dns_provider_config),
    }

    if settings.use_kubefed:
        objects = [
            render_one("kubefed/apiserver-credentials.yaml", values),
            render_one("kubefed/controller-manager-kubeconfig.yaml", values),
            *render("kubefed/controller-manager-rbac.yaml", values),
            render_one("kubefed/apiserver-deployment.yaml", values),
            render_one("kubefed/controller-manager-deployment.yaml", values),
        ]
    else:
        objects = [
            render_one("federation-apiserver-secrets.yaml", values),
            _controller_manager_kubeconfig_secret(settings, values["FEDERATION_CONTROLLER_MANAGER_KUBECONFIG_BASE64"]),
            render_one("federation-apiserver-deployment.yaml", values),
            render_one("federation-controller-manager-deployment.yaml", values),
        ]
    if dns_provider_config is not None:
        objects.insert(0, render_one("kubefed/dns-provider-secret.yaml", values))

    objects = [_owned(obj, settings) for obj in objects]
    if not settings.use_pv_for_etcd:
        _etcd_on_empty_dir(objects)
    return objects


def controller_manager_kubeconfig(settings: UpSettings, creds: ApiserverCredentials) -> dict:
    """Return the kubeconfig the controller manager uses: the in-cluster Service name, verified by the CA."""
    # NOTE: both mechanisms authenticate the controller manager with the bearer token; kubefed init issued it a client certificate instead.
    name = settings.kube_context
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": name, "cluster": {"server": f"https://{settings.apiserver_name}:443", "certificate-authority-data": b64(creds.ca.cert_pem)}}],
        "users": [{"name": name, "user": {"token": creds.token}}],
        "contexts": [{"name": name, "context": {"cluster": name, "user": name}}],
        "current-context": name,
    }


def user_kubeconfig_entries(settings: UpSettings, creds: ApiserverCredentials, endpoint: Endpoint) -> tuple[dict, list[dict], dict]:
    """Return the cluster, users and context written to the user's kubeconfig for ``FEDERATION_KUBE_CONTEXT``."""
    name = settings.kube_context
    cluster = {"name": name, "cluster": {"server": endpoint.url, "certificate-authority-data": b64(creds.ca.cert_pem)}}
    users = [
        {"name": name, "user": {"token": creds.token}},
        {"name": settings.basic_auth_user, "user": {"username": "admin", "password": creds.password}},
    ]
    context = {"name": name, "context": {"cluster": name, "user": name}}
    return cluster, users, context


def member_secret(settings: UpSettings, name: str, kubeconfig: bytes) -> dict:
    """Return the Secret holding a member cluster's kubeconfig under the key ``kubeconfig``."""
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": settings.namespace, "labels": {}},
        "type": "Opaque",
        "data": {"kubeconfig": b64(kubeconfig)},
    }
    return _owned(secret, settings)


def _names(settings: UpSettings) -> dict[str, object]:
    repository, _, tag = settings.image.rpartition(":")
    return {
        "FEDERATION_NAMESPACE": settings.namespace,
        "FEDERATION_NAME": settings.federation_name,
        "FEDERATION_APISERVER_DEPLOYMENT_NAME": settings.apiserver_name,
        "FEDERATION_CONTROLLER_MANAGER_DEPLOYMENT_NAME": settings.controller_manager_name,
        "FEDERATION_APISERVER_IMAGE_REPO": repository,
        "FEDERATION_APISERVER_IMAGE_TAG": tag,
        "FEDERATION_CONTROLLER_MANAGER_IMAGE_REPO": repository,
        "FEDERATION_CONTROLLER_MANAGER_IMAGE_TAG": tag,
        "FEDERATION_IMAGE": settings.image,
        "FEDERATION_SERVICE_CIDR": settings.service_cidr,
        "FEDERATION_ADMISSION_CONTROL": settings.admission_control,
        "FEDERATION_DNS_PROVIDER": settings.dns_provider,
        "DNS_ZONE_NAME": settings.dns_zone,
        # kubefed join reads this annotation to add the federation to each member's kube-dns.
        "FEDERATIONS_DOMAIN_MAP": f"{settings.federation_name}={settings.dns_zone.rstrip('.')}",
        "FEDERATION_CONTROLLER_MANAGER_SERVICE_ACCOUNT": CONTROLLER_MANAGER_ACCOUNT,
    }


def _dns_provider_values(settings: UpSettings, config: bytes | None) -> dict[str, object]:
    if config is None:
        return {
            # The direct manifests passed the flag even when empty; kubefed left it out.
            "FEDERATION_DNS_PROVIDER_CONFIG": "",
            "FEDERATION_DNS_PROVIDER_CONFIG_FLAG": OMIT,
            "FEDERATION_DNS_PROVIDER_CONFIG_BASE64": OMIT,
            "FEDERATION_DNS_PROVIDER_CONFIG_VOLUME": OMIT,
            "FEDERATION_DNS_PROVIDER_CONFIG_MOUNT": OMIT,
        }
    path = f"{DNS_PROVIDER_MOUNT}/{DNS_PROVIDER_SECRET}"
    return {
        "FEDERATION_DNS_PROVIDER_CONFIG": path,
        "FEDERATION_DNS_PROVIDER_CONFIG_FLAG": f"--dns-provider-config={path}",
        "FEDERATION_DNS_PROVIDER_CONFIG_BASE64": b64(config),
        "FEDERATION_DNS_PROVIDER_CONFIG_VOLUME": {"name": "dns-provider-config", "secret": {"secretName": DNS_PROVIDER_SECRET}},
        "FEDERATION_DNS_PROVIDER_CONFIG_MOUNT": {"name": "dns-provider-config", "mountPath": DNS_PROVIDER_MOUNT, "readOnly": True},
    }


def _controller_manager_kubeconfig_secret(settings: UpSettings, kubeconfig_base64: str) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": controller_manager_kubeconfig_secret_name(settings), "namespace": settings.namespace, "labels": {"app": "federated-cluster"}},
        "type": "Opaque",
        "data": {"kubeconfig": kubeconfig_base64},
    }


def _etcd_on_empty_dir(objects: list[dict]) -> None:
    for obj in objects:
        if obj["kind"] != "Deployment":
            continue
        for volume in obj["spec"]["template"]["spec"].get("volumes") or []:
            if "persistentVolumeClaim" in volume:
                del volume["persistentVolumeClaim"]
                volume["emptyDir"] = {}


def _owned(obj: dict, settings: UpSettings) -> dict:
    obj = copy.deepcopy(obj)
    labels = ownership_labels(settings.federation_name)
    metadata = obj.setdefault("metadata", {})
    metadata["labels"] = {**(metadata.get("labels") or {}), **labels}
    template = (obj.get("spec") or {}).get("template")
    if obj["kind"] == "Deployment" and template:
        template_metadata = template.setdefault("metadata", {})
        template_metadata["labels"] = {**(template_metadata.get("labels") or {}), **labels}
    return obj


def read_dns_provider_config(settings: UpSettings) -> bytes | None:
    path: Path | None = settings.dns_provider_config
    return path.read_bytes() if path is not None else None
