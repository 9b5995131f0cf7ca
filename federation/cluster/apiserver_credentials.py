"""The federation API server's CA, serving certificate, token and password.

A second federation-up.sh run must converge without changing what users
already hold, so each piece found in the cluster is reused while it is still
valid: the CA from its own Secret (never mounted by a pod), the serving
certificate while it is signed by that CA and covers the current addresses,
the token and password while they are well formed.
"""

from __future__ import annotations

import base64
import ipaddress
import re
import uuid
from dataclasses import dataclass

from federation.core import credentials
from federation.core.credentials import KeyPair

CSV_FIELD = re.compile(r"^[A-Za-z0-9]+$")


@dataclass(frozen=True)
class SecretLayout:
    """The data keys of the API server's Secret, which differ between the two mechanisms."""

    tokens: str
    basic_auth: str
    ca_cert: str
    server_cert: str
    server_key: str


DIRECT_LAYOUT = SecretLayout("known-tokens.csv", "basic-auth.csv", "ca.crt", "server.cert", "server.key")
KUBEFED_LAYOUT = SecretLayout("token.csv", "basicauth.csv", "ca.crt", "server.crt", "server.key")
USER = "admin"


@dataclass(frozen=True)
class ApiserverCredentials:
    ca: KeyPair
    server: KeyPair
    token: str
    password: str
    user_uid: str  # third column of the token and basic-auth files

    @property
    def tokens_csv(self) -> str:
        return f"{self.token},{USER},{self.user_uid}\n"

    @property
    def basic_auth_csv(self) -> str:
        return f"{self.password},{USER},{self.user_uid}\n"


def server_sans(host: str, service: str, namespace: str) -> list[str]:
    """Return the names and addresses the serving certificate must cover, from outside and inside the host cluster."""
    sans = [host, service, f"{service}.{namespace}", f"{service}.{namespace}.svc", f"{service}.{namespace}.svc.cluster.local"]
    if is_ip(host) and ipaddress.ip_address(host).is_loopback and host != "127.0.0.1":
        sans.append("127.0.0.1")
    return list(dict.fromkeys(sans))


def is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def ensure(ca_secret: dict | None, secret: dict | None, layout: SecretLayout, sans: list[str], common_name: str, default_uid: str | None) -> tuple[ApiserverCredentials, list[str]]:
    """Reuse what is still valid in the two Secrets and make the rest; return the credentials and what was made new.

    ``default_uid`` is the user id column for newly made tokens: ``admin`` as
    the direct manifests had, or None for a random UUID as kubefed made.
    """
    data = _decoded(secret)
    server = None
    if layout.server_cert in data and layout.server_key in data:
        server = KeyPair(data[layout.server_cert], data[layout.server_key])
    token, token_uid = _csv_entry(data.get(layout.tokens))
    password, password_uid = _csv_entry(data.get(layout.basic_auth))

    renewed, made = credentials.renew(_ca_from(ca_secret), server, token, password, common_name, sans)
    ca, server, token, password = renewed.ca, renewed.server, renewed.token, renewed.password
    uid = token_uid or password_uid or default_uid or str(uuid.uuid4())

    return ApiserverCredentials(ca, server, token, password, uid), made


def ca_secret_data(ca: KeyPair) -> dict[str, str]:
    return {"ca.crt": b64(ca.cert_pem), "ca.key": b64(ca.key_pem)}


def apiserver_secret_values(creds: ApiserverCredentials) -> dict[str, str]:
    """Return the base64 template values of the API server's Secret."""
    return {
        "FEDERATION_API_KNOWN_TOKENS_BASE64": b64(creds.tokens_csv),
        "FEDERATION_API_BASIC_AUTH_BASE64": b64(creds.basic_auth_csv),
        "FEDERATION_APISERVER_CA_CERT_BASE64": b64(creds.ca.cert_pem),
        "FEDERATION_APISERVER_CERT_BASE64": b64(creds.server.cert_pem),
        "FEDERATION_APISERVER_KEY_BASE64": b64(creds.server.key_pem),
    }


def b64(value: str | bytes) -> str:
    raw = value.encode() if isinstance(value, str) else value
    return base64.b64encode(raw).decode()


def _ca_from(ca_secret: dict | None) -> KeyPair | None:
    data = _decoded(ca_secret)
    if "ca.crt" not in data or "ca.key" not in data:
        return None
    return KeyPair(data["ca.crt"], data["ca.key"])


def _decoded(secret: dict | None) -> dict[str, bytes]:
    if not secret:
        return {}
    decoded = {}
    for key, value in (secret.get("data") or {}).items():
        try:
            decoded[key] = base64.b64decode(value or "", validate=True)
        except ValueError:
            continue
    return decoded


def _csv_entry(raw: bytes | None) -> tuple[str | None, str | None]:
    """Return the secret and user id of the first ``secret,user,uid`` line, or None when unusable."""
    if not raw:
        return None, None
    line = raw.decode(errors="replace").strip().splitlines()[0] if raw.strip() else ""
    fields = line.split(",")
    if len(fields) < 3 or not CSV_FIELD.match(fields[0]) or len(fields[0]) < 16:
        return None, None
    return fields[0], fields[2].strip() or None
