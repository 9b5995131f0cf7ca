"""ServiceAccount controllers: the `default` account and kube-root-ca.crt per namespace, and token Secrets."""

from __future__ import annotations

import base64
import json
import secrets
from typing import Any

from .. import errors
from .base import Controller

TOKEN_SECRET_TYPE = "kubernetes.io/service-account-token"
SERVICE_ACCOUNT_NAME_ANNOTATION = "kubernetes.io/service-account.name"
SERVICE_ACCOUNT_UID_ANNOTATION = "kubernetes.io/service-account.uid"


def _b64(data: bytes | str) -> str:
    raw = data.encode() if isinstance(data, str) else data
    return base64.b64encode(raw).decode()


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def make_token(issuer_name: str, namespace: str, account: str) -> str:
    """Return an opaque bearer token shaped like a legacy ServiceAccount JWT.

    The signature part is random: kubesim accepts the token by looking it up,
    not by verifying a signature.
    """
    header = _b64url(json.dumps({"alg": "RS256", "kid": issuer_name}).encode())
    payload = _b64url(json.dumps({
        "iss": "kubernetes/serviceaccount",
        "kubernetes.io/serviceaccount/namespace": namespace,
        "kubernetes.io/serviceaccount/service-account.name": account,
        "sub": f"system:serviceaccount:{namespace}:{account}",
    }).encode())
    return f"{header}.{payload}.{_b64url(secrets.token_bytes(32))}"


def service_account_tokens(store) -> set[str]:
    """Return the tokens of all populated ServiceAccount token Secrets in the store."""
    resource = store.registry.by_path("", "v1", "secrets")
    items, _ = store.list(resource, None, lambda s: s.get("type") == TOKEN_SECRET_TYPE)
    tokens = set()
    for item in items:
        encoded = (item.get("data") or {}).get("token")
        if encoded:
            try:
                tokens.add(base64.b64decode(encoded).decode())
            except (ValueError, UnicodeDecodeError):
                continue
    return tokens


class ServiceAccountController(Controller):
    """Creates the `default` ServiceAccount and the kube-root-ca.crt ConfigMap in every active namespace."""

    name = "serviceaccount"
    watches = ("namespaces", "serviceaccounts", "configmaps")

    def __init__(self, store, cluster=None, ca_pem: bytes = b"") -> None:
        super().__init__(store, cluster)
        self.ca_pem = ca_pem
        self._namespaces = store.registry.by_path("", "v1", "namespaces")
        self._accounts = store.registry.by_path("", "v1", "serviceaccounts")
        self._configmaps = store.registry.by_path("", "v1", "configmaps")

    def reconcile(self) -> float | None:
        namespaces, _ = self.store.list(self._namespaces)
        for namespace in namespaces:
            if (namespace.get("status") or {}).get("phase") != "Active":
                continue
            name = namespace["metadata"]["name"]
            self._ensure(self._accounts, name, {"apiVersion": "v1", "kind": "ServiceAccount",
                                                "metadata": {"name": "default", "namespace": name}})
            self._ensure(self._configmaps, name, {
                "apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": "kube-root-ca.crt", "namespace": name,
                             "annotations": {"kubernetes.io/description":
                                             "Contains a CA bundle that can be used to verify the "
                                             "kube-apiserver when using internal endpoints such as the "
                                             "internal service IP or kubernetes.default.svc. No other "
                                             "usage is guaranteed across distributions of Kubernetes "
                                             "clusters."}},
                "data": {"ca.crt": self.ca_pem.decode()}})
        return None

    def _ensure(self, resource, namespace: str, obj: dict[str, Any]) -> None:
        if self.store.try_get(resource, namespace, obj["metadata"]["name"]) is not None:
            return
        try:
            self.store.create(resource, namespace, obj)
        except errors.StatusError as exc:
            if exc.code not in (403, 404, 409):
                raise


class TokenController(Controller):
    """Fills `token`, `ca.crt` and `namespace` into ServiceAccount token Secrets."""

    name = "serviceaccount-token"
    watches = ("secrets", "serviceaccounts")

    def __init__(self, store, cluster=None, ca_pem: bytes = b"", issuer_name: str = "kubesim") -> None:
        super().__init__(store, cluster)
        self.ca_pem = ca_pem
        self.issuer_name = issuer_name
        self._secrets = store.registry.by_path("", "v1", "secrets")
        self._accounts = store.registry.by_path("", "v1", "serviceaccounts")

    def reconcile(self) -> float | None:
        items, _ = self.store.list(self._secrets, None, lambda s: s.get("type") == TOKEN_SECRET_TYPE)
        for secret in items:
            meta = secret["metadata"]
            annotations = meta.get("annotations") or {}
            account_name = annotations.get(SERVICE_ACCOUNT_NAME_ANNOTATION)
            data = secret.get("data") or {}
            if not account_name or data.get("token"):
                continue
            # NOTE: the real token controller waits for the ServiceAccount to exist and deletes
            # Secrets whose account is gone; kubesim fills the token regardless.
            account = self.store.try_get(self._accounts, meta["namespace"], account_name)
            if account is not None:
                annotations[SERVICE_ACCOUNT_UID_ANNOTATION] = account["metadata"]["uid"]
                meta["annotations"] = annotations
            data["token"] = _b64(make_token(self.issuer_name, meta["namespace"], account_name))
            data["ca.crt"] = _b64(self.ca_pem)
            data["namespace"] = _b64(meta["namespace"])
            secret["data"] = data
            try:
                self.store.update(self._secrets, meta["namespace"], meta["name"], secret)
            except errors.StatusError as exc:
                if exc.code not in (404, 409):
                    raise
                self.wake()
        return None
