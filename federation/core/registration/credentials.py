"""The credentials the federation controller manager uses to reach a member.

Two forms, both stored as a kubeconfig under key ``kubeconfig`` of a Secret
in the host's federation namespace:

- ``kubeconfig``: the member context's own kubeconfig, minified and
  flattened, so the Secret contains no file paths from this machine;
- ``serviceaccount``: a token of a ServiceAccount made for the federation in
  the member, bound to a ClusterRole, with the member's CA.
"""

from __future__ import annotations

import base64
import copy

import yaml

from federation.core.apply import ownership_labels
from federation.core.errors import InvalidInput
from federation.core.registration.model import Federation, Member
from federation.core.validation import cluster_name_from_context, dns1123_subdomain

CREDENTIALS = ("kubeconfig", "serviceaccount")
CLUSTER_ROLE_RULES = ("all", "read")
CLUSTER_ANNOTATION = "federation.k8s.io/cluster-name"
# kubefed 1.7 wrote these annotation keys on the Cluster, the first with its typo; unjoin reads them.
SERVICE_ACCOUNT_ANNOTATION = "federation.kubernetes.io/servive-account-name"
CLUSTER_ROLE_ANNOTATION = "federation.kubernetes.io/cluster-role-name"

_RULES = {
    "all": [
        {"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]},
        {"nonResourceURLs": ["/healthz"], "verbs": ["get"]},
    ],
    "read": [
        {"apiGroups": ["*"], "resources": ["*"], "verbs": ["get", "list", "watch"]},
        {"nonResourceURLs": ["/healthz"], "verbs": ["get"]},
    ],
}


def secret_kubeconfig(member: Member, server: str) -> dict:
    """Return the member's kubeconfig with ``server`` as the address; raise when the host could not use it.

    Exec plugins and auth providers run a program on this machine to get a
    token, which the controller manager in the host cannot do.
    """
    config = copy.deepcopy(member.kubeconfig)
    config["clusters"][0]["cluster"]["server"] = server
    for user in config.get("users") or []:
        body = user.get("user") or {}
        plugins = [key for key in ("exec", "auth-provider") if key in body]
        if plugins:
            plugin = plugins[0]
            raise InvalidInput(
                f"context {member.context!r} authenticates with an {plugin} plugin, which the federation controller manager in the host cluster cannot run",
                hint="join with --credentials=serviceaccount, which stores a ServiceAccount token instead",
            )
    return config


def token_kubeconfig(member: Member, server: str, token: str, ca_data: str) -> dict:
    """Build a kubeconfig for ``server`` that authenticates with ``token`` and trusts ``ca_data`` (base64 PEM)."""
    cluster: dict = {"server": server}
    if ca_data:
        cluster["certificate-authority-data"] = ca_data
    else:
        original = member.kubeconfig["clusters"][0].get("cluster") or {}
        for key in ("certificate-authority-data", "insecure-skip-tls-verify"):
            if key in original:
                cluster[key] = original[key]
    user = f"{member.name}-federation"
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": member.name, "cluster": cluster}],
        "users": [{"name": user, "user": {"token": token}}],
        "contexts": [{"name": member.name, "context": {"cluster": member.name, "user": user}}],
        "current-context": member.name,
    }


def host_secret(federation: Federation, member: Member, name: str, kubeconfig: dict) -> dict:
    text = yaml.safe_dump(kubeconfig, default_flow_style=False, sort_keys=False)
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": "Opaque",
        "metadata": {
            "name": name,
            "namespace": federation.namespace,
            "labels": ownership_labels(federation.name),
            "annotations": {CLUSTER_ANNOTATION: member.name},
        },
        "data": {"kubeconfig": base64.b64encode(text.encode()).decode()},
    }


def service_account_name(member_name: str, host_context: str) -> str:
    """Return ``<cluster>-<host context>``, the ServiceAccount name kubefed used, made a valid name."""
    return dns1123_subdomain("service account name", cluster_name_from_context(f"{member_name}-{cluster_name_from_context(host_context)}"))


def cluster_role_name(federation_name: str, member_name: str, host_context: str) -> str:
    return f"federation-controller-manager:{federation_name}-{member_name}-{cluster_name_from_context(host_context)}"


def token_secret_name(service_account: str) -> str:
    return f"{service_account}-token"


def member_metadata(federation: Federation, member: Member, name: str, namespace: str | None = None) -> dict:
    metadata: dict = {"name": name, "labels": ownership_labels(federation.name), "annotations": {CLUSTER_ANNOTATION: member.name}}
    if namespace:
        metadata["namespace"] = namespace
    return metadata


def service_account_objects(federation: Federation, member: Member, rules: str = "all") -> list[dict]:
    """Return the ServiceAccount, its token Secret, the ClusterRole and its binding, in apply order.

    Clusters since Kubernetes 1.24 no longer create a token Secret for a
    ServiceAccount, so the Secret is created explicitly and the token
    controller fills in ``token`` and ``ca.crt``.
    """
    if rules not in CLUSTER_ROLE_RULES:
        raise InvalidInput.variable("--cluster-role-rules", rules, "is not a known rule set", f"pass one of {', '.join(CLUSTER_ROLE_RULES)}")
    account = service_account_name(member.name, federation.host.context)
    role = cluster_role_name(federation.name, member.name, federation.host.context)
    namespace = federation.namespace

    token_metadata = member_metadata(federation, member, token_secret_name(account), namespace)
    token_metadata["annotations"]["kubernetes.io/service-account.name"] = account
    return [
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": member_metadata(federation, member, account, namespace)},
        {"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/service-account-token", "metadata": token_metadata},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": member_metadata(federation, member, role), "rules": _RULES[rules]},
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRoleBinding",
            "metadata": member_metadata(federation, member, role),
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
            "subjects": [{"kind": "ServiceAccount", "name": account, "namespace": namespace}],
        },
    ]


def cluster_object(federation: Federation, member: Member, server: str, secret_name: str, service_account: str = "", cluster_role: str = "") -> dict:
    """Build the federation/v1beta1 Cluster that registers ``member``."""
    annotations = {}
    if service_account:
        annotations[SERVICE_ACCOUNT_ANNOTATION] = service_account
    if cluster_role:
        annotations[CLUSTER_ROLE_ANNOTATION] = cluster_role
    metadata: dict = {"name": member.name, "labels": ownership_labels(federation.name)}
    if annotations:
        metadata["annotations"] = annotations
    return {
        "apiVersion": "federation/v1beta1",
        "kind": "Cluster",
        "metadata": metadata,
        "spec": {
            "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server}],
            "secretRef": {"name": secret_name},
        },
    }
