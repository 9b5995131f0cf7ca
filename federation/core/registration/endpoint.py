"""The member API server address that the host cluster can reach.

A kind cluster's kubeconfig points at a port forwarded to the host machine's
loopback (``https://127.0.0.1:PORT``). Pods in another kind cluster cannot
reach that address, but they reach the member's control-plane container on
the shared ``kind`` Docker network at ``https://<container-ip>:6443``, which
kubeadm puts in the API server certificate.
"""

from __future__ import annotations

import ipaddress
import logging
import os
from collections.abc import Callable
from urllib.parse import urlsplit

from federation.core.errors import PreflightFailed
from federation.core.kube import Cluster
from federation.core.registration.model import Member

log = logging.getLogger(__name__)

KIND_PREFIX = "kind-"
KIND_API_PORT = 6443
INSPECT_TIMEOUT = 30  # seconds

# Returns the IP addresses of a Docker container, given its name.
Inspector = Callable[[str], list[str]]


def is_loopback(server: str) -> bool:
    host = urlsplit(server if "://" in server else f"https://{server}").hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def provider_of(cluster: Cluster) -> str:
    """Return ``kind`` for a kind cluster reached through loopback, else ``other``."""
    return "kind" if cluster.context.startswith(KIND_PREFIX) and is_loopback(cluster.server) else "other"


def reachable_server(member: Member, host_provider: str, inspect: Inspector | None = None) -> str:
    """Return the member's API server URL as the host cluster's pods can reach it.

    Only a kind member (context ``kind-NAME`` with a loopback server) joined
    to a kind host is rewritten, to ``https://<container-ip>:6443`` of the
    ``NAME-control-plane`` container. Every other address is returned as it
    is, with ``https://`` added when it has no scheme, as kubefed did.
    """
    server = member.server
    if "://" not in server:
        server = f"https://{server}"
    if host_provider != "kind" or not member.context.startswith(KIND_PREFIX) or not is_loopback(server):
        return server

    container = f"{member.context[len(KIND_PREFIX):]}-control-plane"
    addresses = (inspect or docker_addresses)(container)
    for address in addresses:
        try:
            parsed = ipaddress.ip_address(address)
        except ValueError:
            continue
        host = f"[{parsed}]" if parsed.version == 6 else str(parsed)
        return f"https://{host}:{KIND_API_PORT}"
    raise PreflightFailed(
        f"kind container {container!r} of context {member.context!r} has no IP address, so the host cluster cannot reach {server}",
        hint=f"check that the kind cluster runs (docker ps --filter name={container})",
    )


def docker_addresses(container: str) -> list[str]:
    """Return the container's IP addresses on all its Docker networks."""
    import sh

    argv = ["inspect", "-f", "{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}", container]
    try:
        output = sh.Command("docker")(*argv, _timeout=INSPECT_TIMEOUT, _env={**os.environ}, _tty_out=False)
    except sh.CommandNotFound:
        raise PreflightFailed("docker not found in PATH, so the kind member's container address cannot be read", hint="install Docker or put docker on PATH") from None
    except sh.ErrorReturnCode as error:
        stderr = error.stderr.decode(errors="replace").strip()
        raise PreflightFailed(f"docker inspect {container} failed: {stderr}", hint=f"check that the kind cluster runs (docker ps --filter name={container})") from None
    except sh.TimeoutException:
        raise PreflightFailed(f"docker inspect {container} timed out after {INSPECT_TIMEOUT}s", hint="check that the Docker daemon responds (docker info)") from None
    log.debug("docker inspect %s: %s", container, str(output).strip())
    return str(output).split()
