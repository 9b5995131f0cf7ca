"""One simulated cluster: its store, HTTPS API server, controllers, faults and counters."""

from __future__ import annotations

import asyncio
import collections
import copy
import logging
import secrets
import shutil
import socket
import ssl
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web

from . import seed
from .auth import Authenticator
from .controllers.base import Controller
from .controllers.deployment import DeploymentController
from .controllers.namespace import NamespaceController
from .controllers.pvc import PersistentVolumeClaimController
from .controllers.service import ServiceController
from .controllers.serviceaccount import ServiceAccountController, TokenController, service_account_tokens
from .faults import Faults
from .federation_api import FederationManager
from .pki import CertificateAuthority, serving_names
from .resources import KUBERNETES_RESOURCES
from .server import ApiServer
from .store import Store

log = logging.getLogger("kubesim")

SETTLE_QUIET = 0.05  # seconds without a store write that count as settled
SETTLE_LIMIT = 2.0  # seconds start() waits for that at most

ALL_CONTROLLERS = frozenset({
    "deployment", "service", "pvc", "namespace", "serviceaccount", "serviceaccount-token", "seed", "federation",
})
DNS_FLAVOURS = ("coredns", "kube-dns", "kube-dns-legacy")


@dataclass
class ClusterSpec:
    """How to simulate one cluster.

    `controllers` names the simulated controllers to run: deployment, service,
    pvc, namespace, serviceaccount, serviceaccount-token, federation, and seed
    (the kind add-ons: node, DNS, default StorageClass, RBAC defaults).
    """

    name: str
    context: str | None = None
    load_balancer: bool = False
    dns: str = "coredns"
    require_token: bool = False
    ready_delay: float = 0.0
    controllers: set[str] = field(default_factory=lambda: set(ALL_CONTROLLERS))

    def __post_init__(self) -> None:
        if not self.context:
            self.context = self.name
        if self.dns not in DNS_FLAVOURS:
            raise ValueError(f"dns must be one of {', '.join(DNS_FLAVOURS)}, got {self.dns!r}")
        unknown = set(self.controllers) - ALL_CONTROLLERS
        if unknown:
            raise ValueError(f"unknown controllers {sorted(unknown)}; known: {sorted(ALL_CONTROLLERS)}")
        if self.ready_delay < 0:
            raise ValueError(f"ready_delay must be >= 0 seconds, got {self.ready_delay}")


def server_ssl_context(cert_pem: bytes, key_pem: bytes, client_ca_pem: bytes | None,
                       directory: Path) -> ssl.SSLContext:
    """Build a TLS server context; client certificates are optional and checked against client_ca_pem."""
    cert_file = directory / "tls.crt"
    key_file = directory / "tls.key"
    cert_file.write_bytes(cert_pem)
    key_file.write_bytes(key_pem)
    key_file.chmod(0o600)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_file, key_file)
    if client_ca_pem:
        context.load_verify_locations(cadata=client_ca_pem.decode())
        context.verify_mode = ssl.CERT_OPTIONAL
    context.set_alpn_protocols(["http/1.1"])
    return context


class SimulatedCluster:
    """A running simulated cluster; the public methods are safe to call from any thread."""

    def __init__(self, spec: ClusterSpec) -> None:
        self.spec = spec
        self.name = spec.name
        self.context: str = spec.context or spec.name
        self.ca = CertificateAuthority(f"{spec.name}-ca")
        dns_names, ip_addresses = serving_names(spec.name)
        self._serving = self.ca.issue("kube-apiserver", dns_names=dns_names, ip_addresses=ip_addresses, server=True)
        client = self.ca.issue("kubernetes-admin", organization="system:masters")
        self.client_cert_pem = client.cert_pem
        self.client_key_pem = client.key_pem
        self.token: str | None = secrets.token_urlsafe(32) if spec.require_token else None

        self.store = Store(KUBERNETES_RESOURCES)
        self.faults = Faults()
        self.requests: collections.Counter = collections.Counter()
        self.url = ""
        self.port = 0
        self.loop: asyncio.AbstractEventLoop | None = None
        self._controllers: list[Controller] = []
        self._runner: web.AppRunner | None = None
        self._workdir = Path(tempfile.mkdtemp(prefix=f"kubesim-{spec.name}-"))
        self.federation = FederationManager(self)

    @property
    def ca_pem(self) -> str:
        return self.ca.cert_pem.decode()

    def valid_tokens(self) -> set[str]:
        tokens = service_account_tokens(self.store)
        if self.token:
            tokens.add(self.token)
        return tokens

    async def start(self) -> None:
        self.loop = asyncio.get_running_loop()
        self.store.loop = self.loop
        enabled = self.spec.controllers

        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        self.url = f"https://127.0.0.1:{self.port}"

        seed.seed_namespaces(self.store)
        seed.seed_kubernetes_service(self.store, self.port)
        if "seed" in enabled:
            seed.seed_cluster(self.store, self.name, self.spec.dns)

        authenticator = Authenticator(allow_anonymous=not self.spec.require_token, tokens=self.valid_tokens)
        api = ApiServer(self.name, self.store, authenticator, faults=self.faults, requests=self.requests,
                        server_address=lambda: f"127.0.0.1:{self.port}")
        context = server_ssl_context(self._serving.cert_pem, self._serving.key_pem, self.ca.cert_pem, self._workdir)
        self._runner = web.AppRunner(api.make_app(), access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        await web.SockSite(self._runner, sock, ssl_context=context).start()

        node_name = f"{self.name}-control-plane"
        candidates: list[Controller] = [
            DeploymentController(self.store, self, ready_delay=self.spec.ready_delay, node_name=node_name),
            ServiceController(self.store, self, load_balancer=self.spec.load_balancer, node_name=node_name),
            PersistentVolumeClaimController(self.store, self, node_name=node_name),
            NamespaceController(self.store, self),
            ServiceAccountController(self.store, self, ca_pem=self.ca.cert_pem),
            TokenController(self.store, self, ca_pem=self.ca.cert_pem, issuer_name=self.name),
        ]
        self._controllers = [c for c in candidates if c.name in enabled]
        for controller in self._controllers:
            controller.start()
        if "federation" in enabled:
            self.federation.start()
        await self._settle()
        log.info("cluster %s listening on %s", self.name, self.url)

    async def _settle(self) -> None:
        """Wait until the controllers' first passes stop writing, so callers start from a stable store.

        Default ServiceAccounts, Endpoints, CoreDNS pods and their events appear
        in those passes. A test that snapshots the store right after start
        would otherwise see them appear during the test.
        """
        deadline = self.loop.time() + SETTLE_LIMIT
        version = self.store.resource_version
        while self.loop.time() < deadline:
            await asyncio.sleep(SETTLE_QUIET)
            current = self.store.resource_version
            if current == version:
                return
            version = current

    async def stop(self) -> None:
        await self.federation.stop()
        for controller in self._controllers:
            await controller.stop()
        if self._runner is not None:
            await self._runner.cleanup()
        shutil.rmtree(self._workdir, ignore_errors=True)

    # Direct store access for tests.

    def objects(self, api_version: str, kind: str, namespace: str | None = None) -> list[dict[str, Any]]:
        resource = self.store.resource_for(api_version, kind)
        items, _ = self.store.list(resource, namespace)
        return items

    def get_object(self, api_version: str, kind: str, name: str,
                   namespace: str | None = None) -> dict[str, Any] | None:
        resource = self.store.resource_for(api_version, kind)
        if resource.namespaced and namespace is None:
            namespace = "default"
        return self.store.try_get(resource, namespace, name)

    def put_object(self, obj: dict[str, Any]) -> dict[str, Any]:
        return self.store.put(copy.deepcopy(obj))

    def set_default_storage_class(self, enabled: bool) -> None:
        """Remove the seeded default StorageClass, or restore it."""
        resource = self.store.resource_for("storage.k8s.io/v1", "StorageClass")
        if enabled:
            self.store.put(seed.default_storage_class())
        elif self.store.try_get(resource, None, seed.DEFAULT_STORAGE_CLASS) is not None:
            self.store.delete(resource, None, seed.DEFAULT_STORAGE_CLASS)

    @property
    def federation_servers(self) -> list[dict[str, Any]]:
        """Federation API servers this cluster currently emulates, with address, port and any bind error."""
        return self.federation.describe()
