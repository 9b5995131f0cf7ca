"""The parties of a registration: the federation (host and API) and one member cluster."""

from __future__ import annotations

import logging
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from federation.core.apply import APP_LABEL
from federation.core.dns import nameservers_from_provider_config
from federation.core.errors import InvalidInput, PreflightFailed
from federation.core.kube import ApiError, Cluster
from federation.core.kubeconfig import Kubeconfig
from federation.core.validation import cluster_name_from_context, dns1123_label, dns1123_subdomain, dns_zone

log = logging.getLogger(__name__)

DNS_PROVIDERS = ("google-clouddns", "aws-route53", "coredns")
_DEFAULT_PORTS = {"https": 443, "http": 80}

# Flags of the federation controller manager that name the federation and its DNS.
_NAME_FLAG = "--federation-name"
_ZONE_FLAG = "--zone-name"
_PROVIDER_FLAG = "--dns-provider"


@dataclass
class Member:
    """A cluster to register: its Cluster object name and a one-context kubeconfig."""

    name: str  # Cluster object name, a DNS-1123 subdomain
    kubeconfig: dict  # minified and flattened: one cluster, one user, one context, no file paths
    context: str  # the context inside ``kubeconfig``

    def cluster(self) -> Cluster:
        """Return an API client for the member built from its own kubeconfig."""
        return Cluster(Kubeconfig(paths=[], documents={Path(f"<member {self.name}>"): self.kubeconfig}), self.context)

    @property
    def server(self) -> str:
        return ((self.kubeconfig.get("clusters") or [{}])[0].get("cluster") or {}).get("server", "")


@dataclass
class Federation:
    """The federation a member joins: host cluster, federation API and DNS settings."""

    host: Cluster  # the host context, where the control plane and the member Secrets live
    api: Cluster  # the federation API server context, where Cluster objects live
    namespace: str
    name: str
    dns_zone: str
    dns_provider: str
    nameservers: list[str] = field(default_factory=list)  # the CoreDNS provider's endpoints, if known
    domain_map: str = ""  # FEDERATIONS_DOMAIN_MAP: replaces name=zone in kube-dns when set


def member_from_context(config: Kubeconfig, context: str, name: str | None = None, exclude: Collection[str] = ()) -> Member:
    """Build a Member from a context of ``config``; the name defaults to one derived from the context.

    Raises ``InvalidInput`` for an unknown context, an invalid name, or a
    kubeconfig file the context refers to that cannot be read. The contexts
    in ``exclude`` (the federation API server's) are left out of the hint.
    """
    if context and context not in config.contexts():
        choices = [item for item in config.contexts() if item not in exclude]
        raise InvalidInput.variable(
            "--cluster-context",
            context,
            "is not a context in the kubeconfig",
            f"set --cluster-context to the context of a member cluster, one of: {', '.join(choices) or '(no contexts)'}",
        )
    context = config.resolve_context(context, "--cluster-context")
    name = name or cluster_name_from_context(context)
    dns1123_subdomain("CLUSTER_NAME", name)
    return Member(name, config.minified(context), context)


def member_from_file(path: Path, name: str) -> Member:
    """Build a Member from a kubeconfig file with one context (or a current context)."""
    if not path.is_file():
        raise InvalidInput(f"member kubeconfig {path} does not exist", hint=f"write the kubeconfig of cluster {name!r} to {path}, or join it by context")
    config = Kubeconfig.load([path])
    context = config.current_context
    if not context:
        contexts = config.contexts()
        if len(contexts) != 1:
            raise InvalidInput(
                f"member kubeconfig {path} has {len(contexts)} contexts and no current context",
                hint="set its current context (kubectl --kubeconfig=%s config use-context NAME)" % path,
            )
        context = contexts[0]
    dns1123_subdomain("CLUSTER_NAME", name)
    return Member(name, config.minified(context), context)


def normalised_server(server: str) -> tuple[str, str, int | None]:
    """Return ``(scheme, host, port)`` of an API server URL, with https and the scheme's default port filled in."""
    parts = urlsplit(server if "://" in server else f"https://{server}")
    scheme = parts.scheme.lower()
    try:
        port = parts.port
    except ValueError:
        port = None
    return scheme, (parts.hostname or "").lower(), port or _DEFAULT_PORTS.get(scheme)


def contexts_for_server(config: Kubeconfig, server: str, exclude: Collection[str] = ()) -> list[str]:
    """Return the contexts of ``config`` whose cluster has the API server ``server``, in kubeconfig order."""
    if not server:
        return []
    target = normalised_server(server)
    clusters = config.entries("clusters")
    found = []
    for name, entry in config.entries("contexts").items():
        if name in exclude:
            continue
        cluster = clusters.get((entry.get("context") or {}).get("cluster", "")) or {}
        address = (cluster.get("cluster") or {}).get("server", "")
        if address and normalised_server(address) == target:
            found.append(name)
    return found


@dataclass
class ControllerManagerSettings:
    """Federation name and DNS settings declared by the host's controller manager Deployment."""

    deployment: str = ""
    name: str = ""
    zone: str = ""
    provider: str = ""
    nameservers: list[str] = field(default_factory=list)


def read_controller_manager(host: Cluster, namespace: str, federation_name: str = "") -> ControllerManagerSettings:
    """Read the federation name, zone and provider from the controller manager in ``namespace``.

    The flags ``--federation-name``, ``--zone-name`` and ``--dns-provider``
    win. The annotations kubefed init wrote (``federations``,
    ``dns-zone-name``, ``dns-provider``, ``nameserver``) fill what the flags
    leave empty. Returns empty settings when no such Deployment exists.
    """
    candidates = _controller_managers(host.list("apps/v1", "Deployment", namespace))
    if not candidates:
        return ControllerManagerSettings()

    if federation_name:
        preferred = [item for item in candidates if item[1].get(_NAME_FLAG) == federation_name or item[0]["metadata"]["name"] == f"{federation_name}-controller-manager"]
        candidates = preferred or candidates
    if len(candidates) > 1:
        names = ", ".join(item[0]["metadata"]["name"] for item in candidates)
        raise PreflightFailed(
            f"namespace {namespace!r} of context {host.context!r} has several federation controller managers: {names}",
            hint="pass --federation-name to pick one",
        )

    deployment, flags = candidates[0]
    annotations = deployment["metadata"].get("annotations") or {}
    settings = ControllerManagerSettings(deployment=deployment["metadata"]["name"])
    settings.name = flags.get(_NAME_FLAG, "")
    settings.zone = flags.get(_ZONE_FLAG, "")
    settings.provider = flags.get(_PROVIDER_FLAG, "")

    if annotations.get("federations") and "=" in annotations["federations"]:
        annotated_name, _, annotated_zone = annotations["federations"].split(",")[0].partition("=")
        settings.name = settings.name or annotated_name
        settings.zone = settings.zone or annotated_zone
    settings.name = settings.name or annotations.get("federation.alpha.kubernetes.io/federation-name", "")
    settings.zone = settings.zone or annotations.get("dns-zone-name", "")
    settings.provider = settings.provider or annotations.get("dns-provider", "")
    if annotations.get("nameserver"):
        settings.nameservers = [item.strip() for item in annotations["nameserver"].split(",") if item.strip()]
    return settings


def _controller_managers(deployments: list[dict]) -> list[tuple[dict, dict[str, str]]]:
    """Return the federation controller manager Deployments among ``deployments``, each with its flags."""
    found = []
    for deployment in deployments:
        flags = _container_flags(deployment)
        if "federation-controller-manager" not in flags["__words__"] and not deployment["metadata"]["name"].endswith("controller-manager"):
            continue
        found.append((deployment, flags))
    return found


def controller_manager_namespaces(host: Cluster, federation_name: str = "") -> list[str]:
    """Return the host namespaces with a federation controller manager labelled ``app: federated-cluster``.

    Namespaces whose controller manager runs ``federation_name`` come first.
    Returns an empty list when the host does not allow listing Deployments in
    all namespaces.
    """
    selector = ",".join(f"{key}={value}" for key, value in APP_LABEL.items())
    try:
        deployments = host.list("apps/v1", "Deployment", None, label_selector=selector)
    except ApiError as error:
        log.debug("cannot list the Deployments of all namespaces in context %s: %s", host.context, error.message)
        return []
    matching: list[str] = []
    others: list[str] = []
    for deployment, flags in _controller_managers(deployments):
        namespace = deployment["metadata"].get("namespace", "")
        runs_name = federation_name and (flags.get(_NAME_FLAG) == federation_name or deployment["metadata"]["name"] == f"{federation_name}-controller-manager")
        target = matching if runs_name else others
        if namespace and namespace not in matching + others:
            target.append(namespace)
    return matching + others


def _container_flags(deployment: dict) -> dict[str, str]:
    """Return ``--flag=value`` pairs of every container, plus all words under ``__words__``."""
    flags: dict[str, str] = {}
    words: list[str] = []
    containers = ((deployment.get("spec") or {}).get("template") or {}).get("spec", {}).get("containers") or []
    for container in containers:
        for word in [*(container.get("command") or []), *(container.get("args") or [])]:
            words.extend(str(word).split())
    for word in words:
        if word.startswith("--") and "=" in word:
            key, _, value = word.partition("=")
            flags.setdefault(key, value)
    flags["__words__"] = " ".join(words)
    return flags


def federation_settings(
    host: Cluster,
    api: Cluster,
    namespace: str,
    name: str = "",
    zone: str = "",
    provider: str = "",
    provider_config: Path | None = None,
    domain_map: str = "",
) -> Federation:
    """Build the Federation from flags, falling back to what the host's controller manager declares.

    Raises ``PreflightFailed`` naming the flag to pass when neither gives a
    value, and ``InvalidInput`` for invalid values.
    """
    dns1123_label("--federation-system-namespace", namespace)
    declared = read_controller_manager(host, namespace, name)
    where = f"Deployment {declared.deployment!r}" if declared.deployment else f"no federation controller manager in namespace {namespace!r} of context {host.context!r}"

    name = name or declared.name
    zone = zone or declared.zone
    provider = provider or declared.provider
    for flag, value in (("--federation-name", name), ("--dns-zone-name", zone), ("--dns-provider", provider)):
        if value:
            continue
        elsewhere = [item for item in controller_manager_namespaces(host, name) if item != namespace] if not declared.deployment else []
        if elsewhere:
            raise PreflightFailed(
                f"{flag} is not set and the host declares none ({where}, but namespace {elsewhere[0]!r} has one)",
                hint=f"pass --federation-system-namespace={elsewhere[0]}",
            )
        raise PreflightFailed(
            f"{flag} is not set and the host declares none ({where})",
            hint=f"pass {flag}, or deploy the federation control plane first (deploy.sh deploy_federation or federation-up.sh)",
        )

    dns1123_subdomain("--federation-name", name)
    dns_zone("--dns-zone-name", zone)
    if provider not in DNS_PROVIDERS:
        raise InvalidInput.variable("--dns-provider", provider, "is not a known DNS provider", f"pass one of {', '.join(DNS_PROVIDERS)}")

    nameservers = list(declared.nameservers)
    if provider_config is not None:
        try:
            nameservers = nameservers_from_provider_config(provider_config.read_text(encoding="utf-8"))
        except OSError as error:
            raise InvalidInput(f"cannot read the DNS provider config {provider_config}: {error.strerror}", hint="pass an existing file to --dns-provider-config") from None

    return Federation(host, api, namespace, name, zone, provider, nameservers, domain_map)


def resolve_api_context(config: Kubeconfig, requested: str, federation_name: str, environ: Mapping[str, str]) -> str:
    """Return the federation API context: ``--context``, else ``FEDERATION_KUBE_CONTEXT``, else a context named after the federation, else ``federation-cluster``."""
    if requested:
        return config.resolve_context(requested, "--context")
    if environ.get("FEDERATION_KUBE_CONTEXT"):
        return config.resolve_context(environ["FEDERATION_KUBE_CONTEXT"], "FEDERATION_KUBE_CONTEXT")
    contexts = config.contexts()
    for candidate in (federation_name, "federation-cluster"):
        if candidate and candidate in contexts:
            return candidate
    raise InvalidInput(
        "no kubeconfig context for the federation API server was given or found"
        + (f" (looked for {federation_name!r} and 'federation-cluster')" if federation_name else " (looked for 'federation-cluster')"),
        hint="pass --context=FEDERATION_CONTEXT or set FEDERATION_KUBE_CONTEXT",
    )
