"""Checks for names and addresses, each raising ``InvalidInput`` with the fix."""

from __future__ import annotations

import hashlib
import re

from federation.core.errors import InvalidInput

DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")

# The reference grammar of the Docker distribution project: an optional
# registry host with port, then lowercase path components. The grammar allows
# an uppercase host, but docker rejects any reference that is not all
# lowercase, so the host is held to lowercase too.
_REGISTRY_HOST = r"(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*(?::[0-9]+)?)"
_PATH_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
REPOSITORY = re.compile(rf"^(?:{_REGISTRY_HOST}/)?{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*$")
TAG = re.compile(r"^[\w][\w.-]{0,127}$")


def dns1123_label(name: str, value: str) -> str:
    """Check a Kubernetes object name that must be a DNS-1123 label (namespaces, Services)."""
    if not value or len(value) > 63 or not DNS1123_LABEL.match(value):
        raise InvalidInput.variable(
            name,
            value,
            "is not a valid DNS-1123 label",
            f"set {name} to at most 63 lowercase letters, digits and '-', starting and ending with a letter or digit",
        )
    return value


def dns1123_subdomain(name: str, value: str) -> str:
    """Check an object name that must be a DNS-1123 subdomain (Secrets, Clusters, Deployments)."""
    if not value or len(value) > 253 or not DNS1123_SUBDOMAIN.match(value):
        raise InvalidInput.variable(
            name,
            value,
            "is not a valid DNS-1123 subdomain",
            f"set {name} to lowercase letters, digits, '-' and '.', starting and ending with a letter or digit",
        )
    return value


def dns_zone(name: str, value: str) -> str:
    """Check a DNS zone name; one trailing dot (the absolute form the legacy default used) is allowed."""
    body = value[:-1] if value.endswith(".") else value
    if not body or len(body) > 253 or not DNS1123_SUBDOMAIN.match(body) or "." not in body:
        raise InvalidInput.variable(
            name,
            value,
            "is not a valid DNS zone name",
            f"set {name} to a lowercase domain with at least two labels, such as federation.example "
            "(letters, digits and '-' only, no '_', no empty labels)",
        )
    return value


def image_repository(name: str, value: str) -> str:
    """Check an image repository or registry prefix such as ``127.0.0.1:5000/federation``."""
    if not value or not REPOSITORY.match(value):
        raise InvalidInput.variable(
            name,
            value,
            "is not a valid image repository",
            f"set {name} to a registry host and lowercase path, such as gcr.io/my-project or 127.0.0.1:5000/federation",
        )
    return value


def image_tag(name: str, value: str) -> str:
    """Check an image tag (``+`` from a Kubernetes version must already be ``_``)."""
    if not TAG.match(value):
        raise InvalidInput.variable(
            name,
            value,
            "is not a valid image tag",
            f"set {name} to at most 128 letters, digits, '_', '.' and '-' (replace '+' with '_')",
        )
    return value


def cluster_name_from_context(context: str) -> str:
    """Derive a DNS-1123 subdomain from a kubeconfig context name.

    Context names may contain ``:``, ``/``, ``@`` and upper case (``arn:aws:eks:...``,
    ``admin@kind-a``). Invalid characters become ``-``; when that changed the name,
    a short hash of the original keeps two different contexts from colliding.
    """
    if DNS1123_SUBDOMAIN.match(context) and len(context) <= 253:
        return context

    cleaned = re.sub(r"[^a-z0-9.-]+", "-", context.lower())
    cleaned = re.sub(r"-{2,}", "-", cleaned).strip("-.")
    digest = hashlib.sha256(context.encode()).hexdigest()[:6]
    cleaned = f"{cleaned[:240]}-{digest}" if cleaned else f"cluster-{digest}"
    return cleaned
