"""Emulated federation API servers and the Cluster readiness part of the federation controller manager.

When a Deployment whose container runs `federation-apiserver` is Ready, kubesim
resolves what the real binary would read: its flags, the files they name
(through volumeMounts, pod volumes and the Secret behind them) and the Service
that exposes it. It then serves a small API over TLS with that certificate and
those credentials. When the Secret, Deployment or Service changes, the server
is restarted with the new configuration, keeping its objects as etcd would.

When a Deployment running `federation-controller-manager` is Ready in the same
namespace, each Cluster object gets a `Ready` condition from a real HTTPS
request to the member's /healthz with the credentials from the Cluster's Secret.
"""

from __future__ import annotations

import asyncio
import base64
import collections
import csv
import hashlib
import io
import logging
import posixpath
import shutil
import socket
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiohttp import web

from .auth import Authenticator
from .controllers.namespace import NamespaceController
from .faults import Faults
from .federation_readiness import ClusterReadinessChecker
from .resources import FEDERATION_RESOURCES
from .selectors import match_service_selector
from .server import ApiServer
from .store import Store, WatchEvent

if TYPE_CHECKING:
    from .cluster import SimulatedCluster

log = logging.getLogger("kubesim.federation")

APISERVER_BINARY = "federation-apiserver"
CONTROLLER_MANAGER_BINARY = "federation-controller-manager"
DEFAULT_SECURE_PORT = 6443


class ConfigurationError(Exception):
    """The Deployment cannot be served as the real binary would fail to start with it."""


def runs_binary(deployment: dict[str, Any], binary: str) -> dict[str, Any] | None:
    """Return the first container whose command or args invoke `binary`, or None."""
    containers = ((deployment.get("spec") or {}).get("template") or {}).get("spec", {}).get("containers") or []
    for container in containers:
        words = list(container.get("command") or []) + list(container.get("args") or [])
        # Flags are skipped: --master=https://federation-apiserver names the binary's Service, not the binary.
        if any(isinstance(w, str) and not w.startswith("-") and posixpath.basename(w.split()[0] if w.strip() else w) == binary
               for w in words):
            return container
    return None


def deployment_ready(deployment: dict[str, Any]) -> bool:
    status = deployment.get("status") or {}
    generation = (deployment.get("metadata") or {}).get("generation", 0)
    return status.get("readyReplicas", 0) >= 1 and status.get("observedGeneration", 0) >= generation


def parse_flags(container: dict[str, Any]) -> dict[str, str]:
    """Parse `--name=value` and `--name value` flags from a container's command and args."""
    words = [w for w in list(container.get("command") or []) + list(container.get("args") or [])
             if isinstance(w, str)]
    flags: dict[str, str] = {}
    index = 0
    while index < len(words):
        word = words[index]
        if word.startswith("--"):
            name, separator, value = word[2:].partition("=")
            if not separator and index + 1 < len(words) and not words[index + 1].startswith("-"):
                value = words[index + 1]
                index += 1
            flags[name] = value
        index += 1
    return flags


def parse_token_file(text: str) -> set[str]:
    """Return the tokens of a --token-auth-file (CSV lines `token,user,uid[,"groups"]`)."""
    tokens = set()
    for row in csv.reader(io.StringIO(text)):
        if len(row) >= 3 and row[0].strip() and not row[0].startswith("#"):
            tokens.add(row[0].strip())
    return tokens


def parse_basic_auth_file(text: str) -> dict[str, str]:
    """Return user -> password from a --basic-auth-file (CSV lines `password,user,uid`)."""
    users = {}
    for row in csv.reader(io.StringIO(text)):
        if len(row) >= 3 and row[0] and not row[0].startswith("#"):
            users[row[1].strip()] = row[0]
    return users


@dataclass
class ServerConfiguration:
    """Settings of a federation API server Deployment, resolved from its flags, Secret and Service."""

    address: str
    port: int
    cert_pem: bytes
    key_pem: bytes
    client_ca_pem: bytes | None
    tokens: set[str]
    basic_users: dict[str, str]

    def fingerprint(self) -> str:
        digest = hashlib.sha256()
        for part in (self.address, str(self.port), self.cert_pem, self.key_pem, self.client_ca_pem or b"",
                     ",".join(sorted(self.tokens)), repr(sorted(self.basic_users.items()))):
            digest.update(part.encode() if isinstance(part, str) else part)
            digest.update(b"\0")
        return digest.hexdigest()


@dataclass
class FederationApiServer:
    """One emulated federation API server, keyed by the Deployment that runs it."""

    namespace: str
    deployment: str
    store: Store
    configuration: ServerConfiguration | None = None
    fingerprint: str = ""
    error: str | None = None
    runner: web.AppRunner | None = None
    workdir: Path | None = None
    namespace_controller: NamespaceController | None = None
    readiness: ClusterReadinessChecker | None = None
    # Faults and counters of this server only; the cluster's own faults never apply here.
    faults: Faults = field(default_factory=Faults)
    requests: collections.Counter = field(default_factory=collections.Counter)

    @property
    def running(self) -> bool:
        return self.runner is not None

    def describe(self) -> dict[str, Any]:
        configuration = self.configuration
        return {
            "namespace": self.namespace,
            "deployment": self.deployment,
            "address": configuration.address if configuration else None,
            "port": configuration.port if configuration else None,
            "url": f"https://{configuration.address}:{configuration.port}" if configuration else None,
            "running": self.running,
            "error": self.error,
            "store": self.store,
            "faults": self.faults,
            "requests": self.requests,
        }


def _new_federation_store() -> Store:
    store = Store(FEDERATION_RESOURCES)
    for name in ("default", "kube-system", "kube-public"):
        store.put({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    return store


class FederationManager:
    """Watches a host cluster's Deployments and runs federation API servers for them."""

    def __init__(self, cluster: "SimulatedCluster") -> None:
        self.cluster = cluster
        self.servers: dict[tuple[str, str], FederationApiServer] = {}
        self._wake = asyncio.Event()
        self._task: asyncio.Task | None = None

    def start(self) -> None:
        self.cluster.store.add_listener(self._on_event)
        self._wake.set()
        self._task = asyncio.get_running_loop().create_task(self._run(), name=f"federation-{self.cluster.name}")

    async def stop(self) -> None:
        self.cluster.store.remove_listener(self._on_event)
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None
        for server in list(self.servers.values()):
            await self._shut_down(server)
            if server.namespace_controller is not None:
                await server.namespace_controller.stop()

    def describe(self) -> list[dict[str, Any]]:
        return [s.describe() for s in self.servers.values() if s.running or s.error]

    def _on_event(self, event: WatchEvent) -> None:
        if event.resource.plural in ("deployments", "secrets", "services"):
            self._wake.set()

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            try:
                await self.reconcile()
            except Exception:  # keep serving the other federation API servers
                log.exception("cluster %s: reconciling federation API servers failed", self.cluster.name)
                await asyncio.sleep(0.2)
                self._wake.set()

    async def reconcile(self) -> None:
        store = self.cluster.store
        deployments_resource = store.registry.by_path("apps", "v1", "deployments")
        deployments, _ = store.list(deployments_resource)

        wanted: dict[tuple[str, str], dict[str, Any]] = {}
        controller_managers: dict[str, bool] = {}
        for deployment in deployments:
            namespace = deployment["metadata"]["namespace"]
            if runs_binary(deployment, CONTROLLER_MANAGER_BINARY) is not None:
                controller_managers[namespace] = controller_managers.get(namespace, False) or \
                    deployment_ready(deployment)
            if runs_binary(deployment, APISERVER_BINARY) is not None and \
                    not deployment["metadata"].get("deletionTimestamp"):
                wanted[(namespace, deployment["metadata"]["name"])] = deployment

        for key, server in list(self.servers.items()):
            if key not in wanted:
                await self._shut_down(server)
                if server.namespace_controller is not None:
                    await server.namespace_controller.stop()
                del self.servers[key]
                log.info("cluster %s: federation API server %s/%s removed with its Deployment",
                         self.cluster.name, *key)

        for key, deployment in wanted.items():
            server = self.servers.get(key)
            if server is None:
                server = FederationApiServer(key[0], key[1], _new_federation_store())
                self.servers[key] = server
            await self._sync(server, deployment)
            self._sync_readiness(server, controller_managers.get(key[0], False))

    async def _sync(self, server: FederationApiServer, deployment: dict[str, Any]) -> None:
        if not deployment_ready(deployment):
            if server.running:
                log.info("cluster %s: stopping federation API server %s/%s: its Deployment is not Ready",
                         self.cluster.name, server.namespace, server.deployment)
                await self._shut_down(server)
            server.error = None
            server.fingerprint = ""
            return

        try:
            configuration = self.resolve(deployment)
        except ConfigurationError as exc:
            if server.running:
                await self._shut_down(server)
            if server.error != str(exc):
                log.error("cluster %s: cannot serve federation API server %s/%s: %s",
                          self.cluster.name, server.namespace, server.deployment, exc)
            server.error = str(exc)
            server.fingerprint = ""
            return

        fingerprint = configuration.fingerprint()
        if server.running and fingerprint == server.fingerprint:
            return
        if server.running:
            log.info("cluster %s: restarting federation API server %s/%s with changed configuration",
                     self.cluster.name, server.namespace, server.deployment)
            await self._shut_down(server)
        elif not server.running and fingerprint == server.fingerprint and server.error:
            return  # the same configuration already failed to bind
        await self._serve(server, configuration, fingerprint)

    def resolve(self, deployment: dict[str, Any]) -> ServerConfiguration:
        """Resolve flags, mounted Secret files and the exposing Service as the real binary would see them."""
        namespace = deployment["metadata"]["namespace"]
        container = runs_binary(deployment, APISERVER_BINARY)
        assert container is not None
        flags = parse_flags(container)
        pod_spec = deployment["spec"]["template"].get("spec") or {}

        def read(flag: str, required: bool) -> bytes | None:
            path = flags.get(flag)
            if not path:
                if required:
                    raise ConfigurationError(f"flag --{flag} is not set on container {container['name']}")
                return None
            return self._read_mounted_file(namespace, container, pod_spec, path, flag)

        cert_pem = read("tls-cert-file", True)
        key_pem = read("tls-private-key-file", True)
        client_ca_pem = read("client-ca-file", False)
        token_file = read("token-auth-file", False)
        basic_file = read("basic-auth-file", False)
        try:
            secure_port = int(flags.get("secure-port", DEFAULT_SECURE_PORT))
        except ValueError as exc:
            raise ConfigurationError(f"flag --secure-port has an invalid value {flags['secure-port']!r}") from exc

        address, port = self._exposed_address(deployment, container, secure_port)
        return ServerConfiguration(
            address=address, port=port, cert_pem=cert_pem or b"", key_pem=key_pem or b"",
            client_ca_pem=client_ca_pem,
            tokens=parse_token_file(token_file.decode()) if token_file else set(),
            basic_users=parse_basic_auth_file(basic_file.decode()) if basic_file else {})

    def _read_mounted_file(self, namespace: str, container: dict[str, Any], pod_spec: dict[str, Any],
                           path: str, flag: str) -> bytes:
        mounts = sorted(container.get("volumeMounts") or [], key=lambda m: len(m.get("mountPath", "")),
                        reverse=True)
        for mount in mounts:
            mount_path = mount.get("mountPath", "").rstrip("/")
            if not path.startswith(mount_path + "/"):
                continue
            relative = path[len(mount_path) + 1:]
            if mount.get("subPath"):
                relative = posixpath.join(mount["subPath"], relative)
            volume = next((v for v in pod_spec.get("volumes") or [] if v.get("name") == mount.get("name")), None)
            if volume is None:
                raise ConfigurationError(f"--{flag}={path}: volume {mount.get('name')!r} is not defined in the pod")
            source = volume.get("secret")
            if source is None:
                raise ConfigurationError(f"--{flag}={path}: volume {volume['name']!r} is not a secret volume")
            return self._secret_file(namespace, source, relative, flag, path)
        raise ConfigurationError(f"--{flag}={path}: no volumeMount of container {container['name']} contains it")

    def _secret_file(self, namespace: str, source: dict[str, Any], relative: str, flag: str, path: str) -> bytes:
        name = source.get("secretName", "")
        secret = self.cluster.store.try_get(self.cluster.store.registry.by_path("", "v1", "secrets"), namespace,
                                            name)
        if secret is None:
            raise ConfigurationError(f"--{flag}={path}: secret {namespace}/{name} not found")
        key = relative
        items = source.get("items")
        if items:
            item = next((i for i in items if i.get("path") == relative), None)
            if item is None:
                raise ConfigurationError(f"--{flag}={path}: secret volume items of {name} do not map {relative}")
            key = item["key"]
        encoded = (secret.get("data") or {}).get(key)
        if encoded is None:
            raise ConfigurationError(f"--{flag}={path}: secret {namespace}/{name} has no key {key!r}")
        return base64.b64decode(encoded)

    def _exposed_address(self, deployment: dict[str, Any], container: dict[str, Any],
                         secure_port: int) -> tuple[str, int]:
        namespace = deployment["metadata"]["namespace"]
        labels = (deployment["spec"]["template"].get("metadata") or {}).get("labels") or {}
        services_resource = self.cluster.store.registry.by_path("", "v1", "services")
        services, _ = self.cluster.store.list(services_resource, namespace, lambda s: match_service_selector(
            (s.get("spec") or {}).get("selector"), labels))
        if not services:
            raise ConfigurationError(f"no Service in namespace {namespace} selects the pod labels {labels}")

        named_ports = {p.get("name"): p.get("containerPort") for p in container.get("ports") or []}
        for service in sorted(services, key=lambda s: not _ingress_ip(s)):
            port = self._service_port(service, secure_port, named_ports)
            if port is None:
                continue
            ingress_ip = _ingress_ip(service)
            if ingress_ip:
                return ingress_ip, int(port["port"])
            if port.get("nodePort"):
                return "127.0.0.1", int(port["nodePort"])
        raise ConfigurationError(
            f"no Service selecting {labels} in namespace {namespace} has a load balancer ingress or a nodePort "
            f"for target port {secure_port}")

    @staticmethod
    def _service_port(service: dict[str, Any], secure_port: int,
                      named_ports: dict[str, Any]) -> dict[str, Any] | None:
        ports = (service.get("spec") or {}).get("ports") or []
        for port in ports:
            target = port.get("targetPort", port.get("port"))
            if isinstance(target, str) and not target.isdigit():
                target = named_ports.get(target)
            if target is not None and int(target) == secure_port:
                return port
        return ports[0] if len(ports) == 1 else None

    async def _serve(self, server: FederationApiServer, configuration: ServerConfiguration,
                     fingerprint: str) -> None:
        from .cluster import server_ssl_context

        server.configuration = configuration
        server.fingerprint = fingerprint
        server.workdir = Path(tempfile.mkdtemp(prefix=f"kubesim-federation-{server.deployment}-"))
        try:
            context = server_ssl_context(configuration.cert_pem, configuration.key_pem, configuration.client_ca_pem,
                                         server.workdir)
        except (OSError, ValueError) as exc:
            self._record_failure(server, f"cannot load the TLS certificate or key: {exc}")
            return

        try:
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((configuration.address, configuration.port))
        except OSError as exc:
            sock.close()
            self._record_failure(server, f"cannot listen on {configuration.address}:{configuration.port}: {exc}")
            return

        server.store.loop = asyncio.get_running_loop()
        authenticator = Authenticator(allow_anonymous=False, tokens=lambda: configuration.tokens,
                                      basic_users=configuration.basic_users)
        api = ApiServer(f"federation-apiserver {server.namespace}/{server.deployment}", server.store, authenticator,
                        faults=server.faults, requests=server.requests,
                        server_address=lambda: f"{configuration.address}:{configuration.port}")
        runner = web.AppRunner(api.make_app(), access_log=None, shutdown_timeout=0.5)
        await runner.setup()
        await web.SockSite(runner, sock, ssl_context=context).start()
        server.runner = runner
        server.error = None
        if server.namespace_controller is None:
            server.namespace_controller = NamespaceController(server.store)
            server.namespace_controller.start()
        log.info("cluster %s: federation API server %s/%s listening on https://%s:%d", self.cluster.name,
                 server.namespace, server.deployment, configuration.address, configuration.port)

    def _record_failure(self, server: FederationApiServer, message: str) -> None:
        server.error = message
        if server.workdir is not None:
            shutil.rmtree(server.workdir, ignore_errors=True)
            server.workdir = None
        log.error("cluster %s: federation API server %s/%s not started: %s", self.cluster.name, server.namespace,
                  server.deployment, message)

    def _sync_readiness(self, server: FederationApiServer, controller_manager_ready: bool) -> None:
        if controller_manager_ready and server.running:
            if server.readiness is None:
                server.readiness = ClusterReadinessChecker(server.store, self.cluster.store, server.namespace)
                server.readiness.start()
        elif server.readiness is not None:
            asyncio.get_running_loop().create_task(server.readiness.stop())
            server.readiness = None

    async def _shut_down(self, server: FederationApiServer) -> None:
        if server.readiness is not None:
            await server.readiness.stop()
            server.readiness = None
        if server.runner is not None:
            await server.runner.cleanup()
            server.runner = None
            log.info("cluster %s: federation API server %s/%s stopped", self.cluster.name, server.namespace,
                     server.deployment)
        if server.workdir is not None:
            shutil.rmtree(server.workdir, ignore_errors=True)
            server.workdir = None


def _ingress_ip(service: dict[str, Any]) -> str | None:
    ingress = ((service.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
    return ingress[0].get("ip") if ingress else None
