"""Settings of federation-up.sh and federation-down.sh, read and checked before any side effect.

The variables, their defaults and their meaning are those of the original
``federation/cluster/common.sh``. Two mechanisms share them: the direct
manifests (default) and ``USE_KUBEFED=true``, whose defaults differ for the
namespace, the federation name, the kubeconfig context and etcd storage.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import os
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from federation.core import validation
from federation.core.environment import Environment
from federation.core.errors import InvalidInput
from federation.core.files import exclusive_lock
from federation.core.kubeconfig import Kubeconfig, kubeconfig_paths

KUBE_ROOT = Path(__file__).resolve().parents[2]
IMAGE_TAG_FILE = KUBE_ROOT / "federation/manifests/federated-image.tag"
VERSIONS_FILE = KUBE_ROOT / "_output/federation/versions"

LOAD_BALANCER_PROVIDERS = ("gce", "gke", "aws")
NODE_PORT_PROVIDERS = ("vagrant", "kind", "local")
PROVIDERS = LOAD_BALANCER_PROVIDERS + NODE_PORT_PROVIDERS
DNS_PROVIDERS = ("google-clouddns", "aws-route53", "coredns")
DEFAULT_DNS_PROVIDER = {"gce": "google-clouddns", "gke": "google-clouddns", "aws": "aws-route53"}

DEFAULT_NODE_PORT = 32111
NODE_PORT_RANGE = range(30000, 32768)  # the API server's default --service-node-port-range
DEFAULT_WAIT_SECONDS = 300.0
GCLOUD_TIMEOUT = 30  # seconds for `gcloud config list`
ADMISSION_PLUGIN = re.compile(r"^[A-Za-z][A-Za-z0-9]*$")


@dataclass(frozen=True)
class Common:
    """Settings both federation-up.sh and federation-down.sh need: names, contexts and the kubeconfig."""

    use_kubefed: bool
    provider: str
    federation_name: str
    namespace: str
    kube_context: str
    host_context: str
    host_context_source: str
    kubeconfig: Kubeconfig
    kubeconfig_path: Path  # the first KUBECONFIG file, where the federation entry goes
    member_files: dict[str, Path]  # secret name -> member kubeconfig under KUBECONFIG_DIR
    member_contexts: list[str]
    wait_seconds: float
    dry_run: bool
    output: str

    @property
    def apiserver_name(self) -> str:
        return f"{self.federation_name}-apiserver" if self.use_kubefed else "federation-apiserver"

    @property
    def controller_manager_name(self) -> str:
        return f"{self.federation_name}-controller-manager" if self.use_kubefed else "federation-controller-manager"

    @property
    def basic_auth_user(self) -> str:
        return f"{self.kube_context}-basic-auth"


@dataclass(frozen=True)
class UpSettings(Common):
    """The settings of federation-up.sh."""

    service_type: str = "LoadBalancer"
    node_port: int = DEFAULT_NODE_PORT
    dns_provider: str = ""
    dns_provider_config: Path | None = None
    dns_zone: str = ""
    image: str = ""
    admission_control: str = "NamespaceLifecycle"
    service_cidr: str = "10.10.0.0/24"
    use_pv_for_etcd: bool = True
    notices: list[str] = field(default_factory=list)  # lines to print once the run starts, like the original's echo


def load_common(env: Environment, host_argument: str = "", dry_run: bool = False, output: str = "text") -> Common:
    """Read the settings both scripts share; raise ``InvalidInput`` for the first bad one."""
    use_kubefed = env.flag("USE_KUBEFED")
    provider = env.value("KUBERNETES_PROVIDER", "gce")

    federation_name = env.value("FEDERATION_NAME", "e2e-federation" if use_kubefed else "federation")
    _check_federation_name(federation_name, use_kubefed)
    namespace = validation.dns1123_label("FEDERATION_NAMESPACE", env.value("FEDERATION_NAMESPACE", "federation-system" if use_kubefed else "federation"))
    kube_context = env.value("FEDERATION_KUBE_CONTEXT", federation_name if use_kubefed else "federation-cluster")

    paths = kubeconfig_paths(env)
    kubeconfig = Kubeconfig.load(paths)
    host_context, host_source = _host_context(env, kubeconfig, provider, host_argument)
    if kube_context == host_context:
        raise InvalidInput.variable(
            "FEDERATION_KUBE_CONTEXT",
            kube_context,
            "is the host cluster's context, so writing the federation entry would replace it",
            "set FEDERATION_KUBE_CONTEXT to a new name, such as federation-cluster",
        )

    member_contexts = _member_contexts(env, kubeconfig, kube_context, use_kubefed)
    member_files = _member_files(paths[0].parent)

    return Common(
        use_kubefed=use_kubefed,
        provider=provider,
        federation_name=federation_name,
        namespace=namespace,
        kube_context=kube_context,
        host_context=host_context,
        host_context_source=host_source,
        kubeconfig=kubeconfig,
        kubeconfig_path=paths[0],
        member_files=member_files,
        member_contexts=member_contexts,
        wait_seconds=_wait_seconds(env),
        dry_run=dry_run or env.flag("FEDERATION_DRY_RUN"),
        output=output,
    )


def run_lock(settings: Common) -> contextlib.AbstractContextManager:
    """Lock the kubeconfig for a whole federation-up.sh or federation-down.sh run.

    Two runs against the same kubeconfig would otherwise interleave their
    objects and their credentials. The lock has its own side file, apart
    from the one each kubeconfig edit takes, and is not taken by --dry-run,
    which changes nothing.
    """
    if settings.dry_run:
        return contextlib.nullcontext()
    return exclusive_lock(Path(f"{settings.kubeconfig_path}.federation-up"), "the kubeconfig with federation-up.sh or federation-down.sh")


def load_up(env: Environment, host_argument: str = "", dry_run: bool = False, output: str = "text") -> UpSettings:
    """Read every setting of federation-up.sh, including the image, before anything is changed."""
    notices: list[str] = []
    provider = env.value("KUBERNETES_PROVIDER", "gce")
    if provider not in PROVIDERS:
        raise InvalidInput.variable(
            "KUBERNETES_PROVIDER",
            provider,
            "is not supported",
            f"set KUBERNETES_PROVIDER to one of {', '.join(PROVIDERS)} ({', '.join(LOAD_BALANCER_PROVIDERS)} expose the federation API server through a "
            f"LoadBalancer Service; {', '.join(NODE_PORT_PROVIDERS)} through a NodePort Service)",
        )
    common = load_common(env, host_argument, dry_run, output)

    dns_provider = _dns_provider(env, provider, common.use_kubefed, notices)
    dns_provider_config = _dns_provider_config(env, dns_provider)
    dns_zone = _dns_zone(env)
    image = _kubefed_image(env, provider) if common.use_kubefed else _direct_image(env, provider)

    admission_control = env.value("FEDERATION_ADMISSION_CONTROL", "NamespaceLifecycle")
    if not all(ADMISSION_PLUGIN.match(plugin) for plugin in admission_control.split(",")):
        raise InvalidInput.variable(
            "FEDERATION_ADMISSION_CONTROL",
            admission_control,
            "is not a comma-separated list of admission plugin names",
            "set FEDERATION_ADMISSION_CONTROL to plugin names such as NamespaceLifecycle,ResourceQuota, without spaces",
        )

    fields = {name: getattr(common, name) for name in Common.__dataclass_fields__}
    return UpSettings(
        **fields,
        service_type="LoadBalancer" if provider in LOAD_BALANCER_PROVIDERS else "NodePort",
        node_port=_node_port(env),
        dns_provider=dns_provider,
        dns_provider_config=dns_provider_config,
        dns_zone=dns_zone,
        image=image,
        admission_control=admission_control,
        service_cidr=_service_cidr(env),
        use_pv_for_etcd=env.flag("FEDERATION_USE_PV_FOR_ETCD", default=not common.use_kubefed),
        notices=notices,
    )


def _check_federation_name(name: str, use_kubefed: bool) -> None:
    validation.dns1123_label("FEDERATION_NAME", name)
    # With kubefed the Service is called <name>-apiserver, and a Service name is a DNS-1035 label.
    if use_kubefed and (len(name) > 63 - len("-apiserver") or not name[0].isalpha()):
        raise InvalidInput.variable(
            "FEDERATION_NAME",
            name,
            f"cannot name the Service {name}-apiserver, which must start with a letter and have at most 63 characters",
            "set FEDERATION_NAME to at most 53 lowercase letters, digits and '-', starting with a letter",
        )


def _host_context(env: Environment, kubeconfig: Kubeconfig, provider: str, argument: str) -> tuple[str, str]:
    """Return the host context and where it came from: argument, variable, zone or current context."""
    variable = env.value("FEDERATION_HOST_CLUSTER_CONTEXT")
    if argument and variable and argument != variable:
        raise InvalidInput(
            f"the host context argument {argument!r} differs from FEDERATION_HOST_CLUSTER_CONTEXT={variable!r}",
            hint="pass the host cluster's context either as the first argument or in FEDERATION_HOST_CLUSTER_CONTEXT, not both",
        )
    if argument:
        return kubeconfig.resolve_context(argument, "the host context argument"), "argument"
    if variable:
        return kubeconfig.resolve_context(variable, "FEDERATION_HOST_CLUSTER_CONTEXT"), "FEDERATION_HOST_CLUSTER_CONTEXT"

    # The e2e jobs named the host context after the provider and the last zone they brought up.
    zone = env.value("FEDERATION_HOST_CLUSTER_ZONE") or (env.value("E2E_ZONES").split() or [""])[-1]
    if zone:
        derived = f"federation-e2e-{provider}-{zone}"
        source = "FEDERATION_HOST_CLUSTER_ZONE" if env.value("FEDERATION_HOST_CLUSTER_ZONE") else "E2E_ZONES"
        return kubeconfig.resolve_context(derived, f"the host context derived from {source}"), source
    return kubeconfig.resolve_context("", "FEDERATION_HOST_CLUSTER_CONTEXT"), "current context"


def _member_contexts(env: Environment, kubeconfig: Kubeconfig, kube_context: str, use_kubefed: bool) -> list[str]:
    raw = env.value("FEDERATION_CLUSTERS")
    if not raw:
        if use_kubefed:
            # kubefed-era federation-up.sh joined every context whose name starts with "federation".
            return [name for name in kubeconfig.contexts() if name.startswith("federation") and name != kube_context]
        return []

    contexts: list[str] = []
    for name in re.split(r"[,\s]+", raw.strip()):
        if not name or name in contexts:
            continue
        if name == kube_context:
            raise InvalidInput.variable("FEDERATION_CLUSTERS", raw, f"lists the federation's own context {name!r}", "list only member cluster contexts")
        kubeconfig.resolve_context(name, "FEDERATION_CLUSTERS")
        contexts.append(name)
    return contexts


def _member_files(kubeconfig_dir: Path) -> dict[str, Path]:
    """Find the member kubeconfigs that kube-up stored under ``<KUBECONFIG_DIR>/federation/kubernetes-apiserver``."""
    root = kubeconfig_dir / "federation" / "kubernetes-apiserver"
    if not root.is_dir():
        return {}

    members: dict[str, Path] = {}
    for directory in sorted(root.iterdir()):
        kubeconfig = directory / "kubeconfig"
        if not directory.is_dir():
            continue
        if not kubeconfig.is_file():
            raise InvalidInput(
                f"member directory {directory} has no kubeconfig file",
                hint=f"write the member's kubeconfig to {kubeconfig} (kubectl config view --minify --flatten --context=<member>), or remove the directory",
            )
        secret_name = directory.name.replace("_", "-")[:252]
        validation.dns1123_subdomain(f"the member secret name from {directory}", secret_name)
        members[secret_name] = kubeconfig
    return members


def _wait_seconds(env: Environment) -> float:
    raw = env.value("FEDERATION_WAIT_TIMEOUT", str(int(DEFAULT_WAIT_SECONDS)))
    try:
        seconds = float(raw)
    except ValueError:
        seconds = -1.0
    if not seconds > 0 or seconds == float("inf"):
        raise InvalidInput.variable("FEDERATION_WAIT_TIMEOUT", raw, "is not a positive number of seconds", "set FEDERATION_WAIT_TIMEOUT to seconds, such as 300")
    return seconds


def _dns_provider(env: Environment, provider: str, use_kubefed: bool, notices: list[str]) -> str:
    value = env.value("FEDERATION_DNS_PROVIDER")
    if not value:
        # The kubefed-era scripts defaulted to google-clouddns whatever the provider.
        value = DEFAULT_DNS_PROVIDER.get(provider, "google-clouddns" if use_kubefed else "")
        if not value:
            raise InvalidInput(
                f"FEDERATION_DNS_PROVIDER must be set when KUBERNETES_PROVIDER={provider}",
                hint=f"set FEDERATION_DNS_PROVIDER to one of {', '.join(DNS_PROVIDERS)} (coredns also needs FEDERATION_DNS_PROVIDER_CONFIG)",
            )
        notices.append(f"setting dns provider to {value}")
    if value not in DNS_PROVIDERS:
        raise InvalidInput.variable("FEDERATION_DNS_PROVIDER", value, "is not a supported DNS provider", f"set FEDERATION_DNS_PROVIDER to one of {', '.join(DNS_PROVIDERS)}")
    return value


def _dns_provider_config(env: Environment, dns_provider: str) -> Path | None:
    raw = env.value("FEDERATION_DNS_PROVIDER_CONFIG")
    if not raw:
        if dns_provider == "coredns":
            raise InvalidInput(
                "FEDERATION_DNS_PROVIDER=coredns needs FEDERATION_DNS_PROVIDER_CONFIG",
                hint="set FEDERATION_DNS_PROVIDER_CONFIG to a file with a [Global] section naming etcd-endpoints and zones",
            )
        return None
    path = Path(raw).expanduser()
    if not path.is_file():
        raise InvalidInput.variable("FEDERATION_DNS_PROVIDER_CONFIG", raw, "is not an existing file", "set FEDERATION_DNS_PROVIDER_CONFIG to the path of the DNS provider's configuration file")
    return path


def _dns_zone(env: Environment) -> str:
    # FEDERATION_DNS_ZONE_NAME wins over DNS_ZONE_NAME, as in the kubefed-era common.sh.
    if env.value("FEDERATION_DNS_ZONE_NAME"):
        return validation.dns_zone("FEDERATION_DNS_ZONE_NAME", env.value("FEDERATION_DNS_ZONE_NAME"))
    return validation.dns_zone("DNS_ZONE_NAME", env.value("DNS_ZONE_NAME", "federation.example."))


def _service_cidr(env: Environment) -> str:
    raw = env.value("FEDERATION_SERVICE_CIDR", "10.10.0.0/24")
    try:
        return str(ipaddress.ip_network(raw, strict=True))
    except ValueError as error:
        raise InvalidInput.variable("FEDERATION_SERVICE_CIDR", raw, f"is not a CIDR block ({error})", "set FEDERATION_SERVICE_CIDR to a network such as 10.10.0.0/24") from None


def _node_port(env: Environment) -> int:
    raw = env.value("FEDERATION_API_NODEPORT", str(DEFAULT_NODE_PORT))
    if not raw.isdigit() or int(raw) not in NODE_PORT_RANGE:
        raise InvalidInput.variable("FEDERATION_API_NODEPORT", raw, "is not a node port", f"set FEDERATION_API_NODEPORT to a port from {NODE_PORT_RANGE.start} to {NODE_PORT_RANGE.stop - 1}")
    return int(raw)


def _direct_image(env: Environment, provider: str) -> str:
    repository = env.value("FEDERATION_PUSH_REPO_BASE") or _gcloud_repository(provider, "FEDERATION_PUSH_REPO_BASE")
    validation.image_repository("FEDERATION_PUSH_REPO_BASE", repository)
    return f"{repository}/hyperkube:{_image_tag(env)}"


def _image_tag(env: Environment) -> str:
    """Return FEDERATION_IMAGE_TAG when set, else the tag push-federation-images.sh wrote."""
    if env.value("FEDERATION_IMAGE_TAG"):
        return validation.image_tag("FEDERATION_IMAGE_TAG", env.value("FEDERATION_IMAGE_TAG"))

    path = Path(env.value("FEDERATION_IMAGE_TAG_FILE", str(IMAGE_TAG_FILE))).expanduser()
    try:
        tag = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        raise InvalidInput(
            f"FEDERATION_IMAGE_TAG is not set and the tag file {path} does not exist",
            hint=f"set FEDERATION_IMAGE_TAG to the tag of the hyperkube image to deploy, or run build/push-federation-images.sh, which pushes the image and writes its tag to {path}",
        ) from None
    except (OSError, UnicodeDecodeError) as error:
        raise InvalidInput(f"cannot read the image tag file {path}: {error}", hint="fix the file or set FEDERATION_IMAGE_TAG") from None
    return validation.image_tag(f"the tag in {path}", tag)


def _kubefed_image(env: Environment, provider: str) -> str:
    registry = env.value("KUBE_REGISTRY")
    if not registry and (env.value("KUBE_PROJECT") or env.value("PROJECT")):
        registry = f"gcr.io/{env.value('KUBE_PROJECT') or env.value('PROJECT')}"
    registry = registry or env.value("FEDERATION_PUSH_REPO_BASE") or _gcloud_repository(provider, "KUBE_REGISTRY")
    validation.image_repository("KUBE_REGISTRY", registry)
    return f"{registry}/hyperkube-amd64:{_kubefed_version(env)}"


def _kubefed_version(env: Environment) -> str:
    """Return KUBERNETES_RELEASE, or KUBE_VERSION from the build's versions file, with '+' as '_'."""
    release = env.value("KUBERNETES_RELEASE")
    if release:
        return validation.image_tag("KUBERNETES_RELEASE", release.replace("+", "_"))

    try:
        version = json.loads(VERSIONS_FILE.read_text(encoding="utf-8"))["KUBE_VERSION"]
    except FileNotFoundError:
        raise InvalidInput(
            f"cannot determine the release version: KUBERNETES_RELEASE is not set and {VERSIONS_FILE} does not exist",
            hint="set KUBERNETES_RELEASE to the version of the hyperkube-amd64 image, such as v1.8.0",
        ) from None
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise InvalidInput(f"cannot read KUBE_VERSION from {VERSIONS_FILE}: {error!r}", hint="set KUBERNETES_RELEASE instead") from None
    return validation.image_tag(f"KUBE_VERSION in {VERSIONS_FILE}", str(version).replace("+", "_"))


def _gcloud_repository(provider: str, variable: str) -> str:
    """Return ``gcr.io/<project>`` from gcloud's configuration on gce and gke, or raise naming ``variable``."""
    fix = f"set {variable} to the image repository base, such as gcr.io/my-project or 127.0.0.1:5000/federation"
    if provider not in ("gce", "gke") or shutil.which("gcloud") is None:
        raise InvalidInput(f"{variable} is not set", hint=fix)

    import sh

    try:
        project = str(
            sh.Command("gcloud")("config", "list", "--format=value(core.project)", _timeout=GCLOUD_TIMEOUT, _env={**os.environ}, _tty_out=False, _err_to_out=False)
        ).strip()
    except (sh.ErrorReturnCode, sh.TimeoutException) as error:
        raise InvalidInput(f"{variable} is not set and gcloud could not report the project: {error.__class__.__name__}", hint=fix) from None
    if not project:
        raise InvalidInput(f"{variable} is not set and gcloud has no project configured", hint=fix)
    if ":" in project:
        raise InvalidInput(f"{variable} is not set and the gcloud project {project!r} is domain-scoped, which a gcr.io path cannot contain", hint=fix)
    return f"gcr.io/{project}"
