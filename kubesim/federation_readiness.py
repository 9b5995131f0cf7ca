"""Cluster readiness as the federation controller manager reports it.

Each Cluster gets a `Ready` condition from a real HTTPS GET of the member's
/healthz, made with the CA, server address and credentials in the Cluster's
Secret. Wrong CAs, certificates without the right SANs, wrong tokens and
unreachable endpoints therefore fail the same way they would for the real
controller manager.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import shutil
import ssl
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import yaml

from . import errors
from .store import Store, WatchEvent, now_rfc3339
from .waiting import wait_event

log = logging.getLogger("kubesim.federation")

CHECK_INTERVAL = 0.5  # seconds between looks for Clusters or Secrets that changed
RECHECK_INTERVAL = 2.0  # seconds between probes of a Cluster nothing has changed about
REQUEST_TIMEOUT = 2.0


class CredentialError(Exception):
    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


@dataclass
class MemberCredentials:
    server: str
    ca_pem: str | None
    insecure: bool = False
    token: str | None = None
    username: str | None = None
    password: str | None = None
    client_cert_pem: bytes | None = None
    client_key_pem: bytes | None = None


def _decode(value: str) -> bytes:
    return base64.b64decode(value)


def credentials_from_kubeconfig(text: str, secret_name: str) -> MemberCredentials:
    """Read the current (or only) context of a kubeconfig; file paths are not supported, only *-data fields."""
    try:
        config = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise CredentialError("InvalidClusterCredentials", f"secret {secret_name}: kubeconfig is not valid YAML: "
                                                          f"{exc}") from exc

    contexts = {c.get("name"): c.get("context") or {} for c in config.get("contexts") or []}
    clusters = {c.get("name"): c.get("cluster") or {} for c in config.get("clusters") or []}
    users = {u.get("name"): u.get("user") or {} for u in config.get("users") or []}
    context_name = config.get("current-context") or (next(iter(contexts)) if len(contexts) == 1 else None)
    context = contexts.get(context_name)
    if context is None:
        raise CredentialError("InvalidClusterCredentials",
                              f"secret {secret_name}: kubeconfig has no current context {context_name!r}")
    cluster = clusters.get(context.get("cluster"))
    if cluster is None or not cluster.get("server"):
        raise CredentialError("InvalidClusterCredentials",
                              f"secret {secret_name}: kubeconfig context {context_name} names no cluster with a "
                              f"server")

    user = users.get(context.get("user"), {})
    ca = cluster.get("certificate-authority-data")
    return MemberCredentials(
        server=cluster["server"],
        ca_pem=_decode(ca).decode() if ca else None,
        insecure=bool(cluster.get("insecure-skip-tls-verify")),
        token=user.get("token"),
        username=user.get("username"),
        password=user.get("password"),
        client_cert_pem=_decode(user["client-certificate-data"]) if user.get("client-certificate-data") else None,
        client_key_pem=_decode(user["client-key-data"]) if user.get("client-key-data") else None,
    )


def credentials_for(cluster: dict[str, Any], host_store: Store, namespace: str) -> MemberCredentials:
    spec = cluster.get("spec") or {}
    secret_name = (spec.get("secretRef") or {}).get("name")
    if not secret_name:
        raise CredentialError("InvalidClusterCredentials", "spec.secretRef.name is not set")
    secrets_resource = host_store.registry.by_path("", "v1", "secrets")
    secret = host_store.try_get(secrets_resource, namespace, secret_name)
    if secret is None:
        raise CredentialError("ClusterSecretNotFound", f"secret {namespace}/{secret_name} not found in the host "
                                                       f"cluster")
    data = secret.get("data") or {}

    if "kubeconfig" in data:
        return credentials_from_kubeconfig(_decode(data["kubeconfig"]).decode(), f"{namespace}/{secret_name}")

    if "token" in data:
        addresses = spec.get("serverAddressByClientCIDRs") or []
        if not addresses:
            raise CredentialError("InvalidClusterCredentials",
                                  "spec.serverAddressByClientCIDRs is empty, so the member has no address")
        chosen = next((a for a in addresses if a.get("clientCIDR") == "0.0.0.0/0"), addresses[0])
        server = chosen.get("serverAddress", "")
        if "://" not in server:
            server = "https://" + server
        return MemberCredentials(server=server, token=_decode(data["token"]).decode().strip(),
                                 ca_pem=_decode(data["ca.crt"]).decode() if "ca.crt" in data else None)

    raise CredentialError("InvalidClusterCredentials",
                          f"secret {namespace}/{secret_name} has neither a kubeconfig key nor a token key")


async def probe(credentials: MemberCredentials) -> tuple[bool, str, str]:
    """GET /healthz on the member; return (ready, reason, message)."""
    url = credentials.server.rstrip("/") + "/healthz"
    workdir = Path(tempfile.mkdtemp(prefix="kubesim-probe-"))
    try:
        if credentials.insecure:
            context = ssl.create_default_context()
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        elif credentials.ca_pem:
            context = ssl.create_default_context(cadata=credentials.ca_pem)
        else:
            # The system trust store never trusts a kubesim or federation CA, as with the real client.
            context = ssl.create_default_context()
        if credentials.client_cert_pem and credentials.client_key_pem:
            (workdir / "client.crt").write_bytes(credentials.client_cert_pem)
            (workdir / "client.key").write_bytes(credentials.client_key_pem)
            context.load_cert_chain(workdir / "client.crt", workdir / "client.key")

        headers = {}
        auth = None
        if credentials.token:
            headers["Authorization"] = f"Bearer {credentials.token}"
        elif credentials.username is not None:
            auth = aiohttp.BasicAuth(credentials.username, credentials.password or "")

        timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            async with session.get(url, ssl=context, headers=headers, auth=auth) as response:
                body = (await response.text()).strip()
                if response.status == 200 and body == "ok":
                    return True, "ClusterReady", "/healthz responded with ok"
                return False, "ClusterNotReady", \
                    f"GET {url} returned HTTP {response.status}: {body[:200]}"
    except aiohttp.ClientConnectorCertificateError as exc:
        return False, "ClusterNotReachable", f"GET {url} failed TLS verification: {exc.certificate_error}"
    except (aiohttp.ClientError, asyncio.TimeoutError, OSError, ssl.SSLError, ValueError) as exc:
        return False, "ClusterNotReachable", f"GET {url} failed: {type(exc).__name__}: {exc}"
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


class ClusterReadinessChecker:
    """Keeps the Ready condition of every Cluster in a federation store up to date."""

    def __init__(self, federation_store: Store, host_store: Store, namespace: str) -> None:
        self.store = federation_store
        self.host_store = host_store
        self.namespace = namespace
        self._resource = federation_store.registry.by_path("federation", "v1beta1", "clusters")
        self._wake = asyncio.Event()
        self._task: asyncio.Task | None = None
        # Names of Clusters to probe on the next pass, and secret names whose Clusters must be probed.
        # Probing only what changed keeps N concurrent joins at N probes instead of N squared.
        self._dirty_clusters: set[str] = set()
        self._dirty_secrets: set[str] = set()
        self._everything_due = 0.0

    def start(self) -> None:
        self.store.add_listener(self._on_event)
        self.host_store.add_listener(self._on_host_event)
        self._task = asyncio.get_running_loop().create_task(self._run(), name=f"cluster-readiness-{self.namespace}")

    async def stop(self) -> None:
        self.store.remove_listener(self._on_event)
        self.host_store.remove_listener(self._on_host_event)
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None

    def _on_event(self, event: WatchEvent) -> None:
        # Status writes of this checker come back as events too; only spec or metadata changes matter.
        if event.resource.plural == "clusters" and (
                event.old_object is None or event.object.get("spec") != event.old_object.get("spec")):
            self._dirty_clusters.add(event.object["metadata"]["name"])
            self._wake.set()

    def _on_host_event(self, event: WatchEvent) -> None:
        if event.resource.plural == "secrets" and event.object["metadata"].get("namespace") == self.namespace:
            self._dirty_secrets.add(event.object["metadata"]["name"])
            self._wake.set()

    async def _run(self) -> None:
        while True:
            await wait_event(self._wake, CHECK_INTERVAL)
            self._wake.clear()
            clusters, _ = self.store.list(self._resource)

            loop = asyncio.get_running_loop()
            everything = loop.time() >= self._everything_due
            if everything:
                self._everything_due = loop.time() + RECHECK_INTERVAL
            dirty, secrets = self._dirty_clusters, self._dirty_secrets
            self._dirty_clusters, self._dirty_secrets = set(), set()
            due = [c for c in clusters if everything or c["metadata"]["name"] in dirty or
                   ((c.get("spec") or {}).get("secretRef") or {}).get("name") in secrets]
            await asyncio.gather(*(self._check(c) for c in due), return_exceptions=False)

    async def _check(self, cluster: dict[str, Any]) -> None:
        name = cluster["metadata"]["name"]
        try:
            credentials = credentials_for(cluster, self.host_store, self.namespace)
            ready, reason, message = await probe(credentials)
        except CredentialError as exc:
            ready, reason, message = False, exc.reason, exc.message

        current = self.store.try_get(self._resource, None, name)
        if current is None:
            return
        status = current.setdefault("status", {})
        conditions = [c for c in status.get("conditions") or [] if c.get("type") != "Ready"]
        previous = next((c for c in status.get("conditions") or [] if c.get("type") == "Ready"), None)
        wanted = "True" if ready else "False"
        if previous and previous.get("status") == wanted and previous.get("reason") == reason \
                and previous.get("message") == message:
            return

        now = now_rfc3339()
        transition = previous.get("lastTransitionTime", now) if previous and previous.get("status") == wanted else now
        conditions.append({"type": "Ready", "status": wanted, "lastProbeTime": now, "lastTransitionTime": transition,
                           "reason": reason, "message": message})
        status["conditions"] = conditions
        if previous is None or previous.get("status") != wanted:
            log.info("federation cluster %s is %s: %s", name, "Ready" if ready else "not Ready", message)
        try:
            self.store.update(self._resource, None, name, current, subresource="status")
        except errors.StatusError as exc:
            if exc.code not in (404, 409):
                raise
            self._wake.set()
