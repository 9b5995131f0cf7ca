"""The federation chart: default values, user overrides and the objects they render to.

The original deploy.sh ran Helm in a container on a chart whose defaults
lived in the chart's values.yaml, overridden by
``${FEDERATION_OUTPUT_ROOT}/values.yaml``. The same two files are read here,
key by key, and rendered with ``federation.core.render`` into apps/v1 objects.
"""

from __future__ import annotations

import ipaddress
import logging
import re
from pathlib import Path
from typing import Any

import yaml

from federation.core.apply import ownership_labels
from federation.core.errors import InvalidInput
from federation.core.render import MANIFESTS, OMIT, render, render_one
from federation.core.validation import dns1123_label, dns_zone, image_repository, image_tag

log = logging.getLogger(__name__)

CHART = "federation"
DEFAULTS_PATH = MANIFESTS / CHART / "values.yaml"
DNS_PROVIDERS = ("google-clouddns", "aws-route53", "coredns")
SERVICE_TYPES = ("LoadBalancer", "NodePort")
ETCD_STORAGE = ("persistent", "emptyDir")
QUANTITY = re.compile(r"^[0-9]+(\.[0-9]+)?(Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E)?$")
NODE_PORTS = range(30000, 32768)

# Keys deploy.sh fills in at deploy time; a user's values.yaml must not set them,
# because that is how the original ended up storing the token in plain text.
GENERATED_KEYS = ("apiserverToken", "apiserverKnownTokens")
YAML_NULLS = frozenset({"", "~", "null", "Null", "NULL"})


def defaults() -> dict[str, Any]:
    return _read_mapping(DEFAULTS_PATH)


def load_values(path: Path, provider: str) -> dict[str, str]:
    """Merge the user's values over the chart defaults and check every value."""
    values = defaults()
    if path.exists():
        overrides = _read_mapping(path)
        for key in GENERATED_KEYS:
            if key in overrides:
                log.warning("%s: ignoring %s, which deploy.sh generates and keeps in a Secret", path, key)
                overrides.pop(key)
        unknown = sorted(set(overrides) - set(values))
        if unknown:
            log.warning("%s: unknown keys %s are ignored", path, ", ".join(unknown))
        values.update({key: value for key, value in overrides.items() if key in values})

    values = {key: "" if value is None or value in YAML_NULLS else str(value) for key, value in values.items()}
    if not values["apiserverServiceType"]:
        values["apiserverServiceType"] = "NodePort" if provider in ("kind", "local", "vagrant") else "LoadBalancer"
    validate(values, path)
    return values


def validate(values: dict[str, str], path: Path) -> None:
    """Raise ``InvalidInput`` naming the file and key for the first bad value."""
    where = f"{path}: "

    def key(name: str) -> str:
        return f"{where}{name}"

    dns1123_label(key("namespace"), values["namespace"])
    dns1123_label(key("apiserverName"), values["apiserverName"])
    dns1123_label(key("controllerManagerName"), values["controllerManagerName"])
    dns1123_label(key("controllerManagerFederationName"), values["controllerManagerFederationName"])
    for registry in ("apiserverRegistry", "controllerManagerRegistry"):
        image_repository(key(registry), values[registry])
    for version in ("apiserverVersion", "controllerManagerVersion"):
        image_tag(key(version), values[version])
    dns_zone(key("controllerManagerDNSZone"), values["controllerManagerDNSZone"])

    _one_of(key("controllerManagerDNSProvider"), values["controllerManagerDNSProvider"], DNS_PROVIDERS)
    _one_of(key("apiserverServiceType"), values["apiserverServiceType"], SERVICE_TYPES)
    _one_of(key("etcdStorage"), values["etcdStorage"], ETCD_STORAGE)

    try:
        ipaddress.ip_network(values["apiserverServiceCIDR"])
    except ValueError:
        raise InvalidInput.variable(key("apiserverServiceCIDR"), values["apiserverServiceCIDR"], "is not a CIDR", "set it to a network such as 10.0.0.0/16") from None

    port = values["apiserverNodePort"]
    if port and (not port.isdigit() or int(port) not in NODE_PORTS):
        raise InvalidInput.variable(key("apiserverNodePort"), port, "is not a port in the node-port range 30000-32767", "pick a port in that range, or leave it empty")
    if not QUANTITY.match(values["etcdStorageSize"]):
        raise InvalidInput.variable(key("etcdStorageSize"), values["etcdStorageSize"], "is not a storage quantity", "use a quantity such as 10Gi")
    if values["etcdStorageClass"]:
        dns1123_label(key("etcdStorageClass"), values["etcdStorageClass"])


def _one_of(name: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise InvalidInput.variable(name, value, f"is not one of: {', '.join(allowed)}", "set it to one of those")


def _read_mapping(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise InvalidInput(f"cannot read {path}: {error}", hint="fix the file's permissions or content") from None
    try:
        # Every value is a string: BaseLoader keeps `apiserverVersion: 1.10` as "1.10", where
        # safe_load would turn it into the float 1.1 and deploy the wrong image tag.
        document = yaml.load(text, Loader=yaml.BaseLoader)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(error, "problem", None) or "syntax error"
        raise InvalidInput(f"{path} is not valid YAML{where}: {problem}", hint="fix that line; the file contains 'key: value' lines") from None
    if document is None:
        return {}
    if not isinstance(document, dict):
        raise InvalidInput(f"{path} must be a mapping of 'key: value' lines, not a {type(document).__name__}", hint="fix the file, or delete it and run deploy.sh init")
    nested = [name for name, value in document.items() if isinstance(value, (dict, list))]
    if nested:
        raise InvalidInput(f"{path}: key {nested[0]!r} is a {type(document[nested[0]]).__name__}, but every value must be a plain string", hint=f"set {nested[0]} to a single value")
    return document


# -- objects ----------------------------------------------------------------


def _labelled(obj: dict, values: dict[str, str]) -> dict:
    labels = obj["metadata"].setdefault("labels", {})
    labels.update(ownership_labels(values["controllerManagerFederationName"]))
    return obj


def namespace(values: dict[str, str]) -> dict:
    return _labelled(render_one(f"{CHART}/templates/namespace.yaml", values), values)


def service(values: dict[str, str]) -> dict:
    port = int(values["apiserverNodePort"]) if values["apiserverNodePort"] and values["apiserverServiceType"] == "NodePort" else OMIT
    return _labelled(render_one(f"{CHART}/templates/apiserver-service.yaml", {**values, "apiserverNodePort": port}), values)


def credential_objects(values: dict[str, str], generated: dict[str, str]) -> list[dict]:
    """Render the Secrets and the endpoint ConfigMap; ``generated`` contains the credential values."""
    return [_labelled(obj, values) for obj in render(f"{CHART}/templates/apiserver-secrets.yaml", {**values, **generated})]


def etcd_claim(values: dict[str, str]) -> dict:
    storage_class = values["etcdStorageClass"] or OMIT
    return _labelled(render_one(f"{CHART}/templates/etcd-pvc.yaml", {**values, "etcdStorageClass": storage_class}), values)


def deployments(values: dict[str, str]) -> list[dict]:
    apiserver = _labelled(render_one(f"{CHART}/templates/apiserver-deployment.yaml", values), values)
    if values["etcdStorage"] == "emptyDir":
        volumes = apiserver["spec"]["template"]["spec"]["volumes"]
        for volume in volumes:
            if volume["name"] == "etcddata":
                volume.pop("persistentVolumeClaim")
                volume["emptyDir"] = {}
    controller_manager = _labelled(render_one(f"{CHART}/templates/controller-manager-deployment.yaml", values), values)
    return [apiserver, controller_manager]
