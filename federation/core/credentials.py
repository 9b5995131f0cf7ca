"""Certificates, tokens and passwords for the federation API server.

Replaces easy-rsa (downloaded at run time by the legacy scripts) with the
``cryptography`` package. Keys are ECDSA P-256: the Kubernetes API server,
kubectl and the Python client all accept them, and they take milliseconds to
generate where RSA-2048 takes tens.
"""

from __future__ import annotations

import datetime
import ipaddress
import secrets
import string
from dataclasses import dataclass

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CA_VALIDITY = datetime.timedelta(days=3650)
LEAF_VALIDITY = datetime.timedelta(days=365)
RENEW_BEFORE = datetime.timedelta(days=30)
_ALPHANUMERIC = string.ascii_letters + string.digits


@dataclass(frozen=True)
class KeyPair:
    """A PEM certificate and its PEM private key."""

    cert_pem: bytes
    key_pem: bytes

    @property
    def certificate(self) -> x509.Certificate:
        return x509.load_pem_x509_certificate(self.cert_pem)


def random_token(length: int = 32) -> str:
    """Return a bearer token of letters and digits, 32 characters as the legacy scripts made."""
    return "".join(secrets.choice(_ALPHANUMERIC) for _ in range(length))


def random_password(length: int = 16) -> str:
    """Return a basic-auth password of letters and digits (the legacy length is 16)."""
    return "".join(secrets.choice(_ALPHANUMERIC) for _ in range(length))


def generate_ca(common_name: str) -> KeyPair:
    """Create a self-signed CA certificate."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = _now()
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + CA_VALIDITY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(True, False, False, False, False, True, True, False, False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return KeyPair(_cert_pem(cert), _key_pem(key))


def issue(ca: KeyPair, common_name: str, sans: list[str] = (), server: bool = True, organization: str | None = None) -> KeyPair:
    """Sign a server or client certificate with ``ca``; ``sans`` mixes DNS names and IP addresses."""
    ca_key = serialization.load_pem_private_key(ca.key_pem, password=None)
    ca_cert = ca.certificate
    key = ec.generate_private_key(ec.SECP256R1())
    attributes = [x509.NameAttribute(NameOID.COMMON_NAME, common_name)]
    if organization:
        attributes.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization))
    now = _now()
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name(attributes))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + LEAF_VALIDITY)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(True, False, True, False, False, False, False, False, False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_cert.public_key()), critical=False)
    )
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName([_general_name(value) for value in sans]), critical=False)
    return KeyPair(_cert_pem(builder.sign(ca_key, hashes.SHA256())), _key_pem(key))


def still_valid(pair: KeyPair, ca: KeyPair, sans: list[str] = ()) -> bool:
    """Return whether ``pair`` was signed by ``ca``, matches its key, covers ``sans`` and is not about to expire."""
    try:
        cert = pair.certificate
        ca_cert = ca.certificate
        ca_cert.public_key().verify(cert.signature, cert.tbs_certificate_bytes, ec.ECDSA(cert.signature_hash_algorithm))
        key = serialization.load_pem_private_key(pair.key_pem, password=None)
    except (ValueError, TypeError, InvalidSignature):
        return False

    if key.public_key().public_numbers() != cert.public_key().public_numbers():
        return False
    if cert.not_valid_after_utc - _now() < RENEW_BEFORE:
        return False
    if sans:
        try:
            names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        except x509.ExtensionNotFound:
            return False
        present = {str(value) for value in names.get_values_for_type(x509.DNSName)}
        present |= {str(value) for value in names.get_values_for_type(x509.IPAddress)}
        if not {str(_normalise(value)) for value in sans} <= present:
            return False
    return True


def ca_still_valid(ca: KeyPair) -> bool:
    try:
        cert = ca.certificate
        key = serialization.load_pem_private_key(ca.key_pem, password=None)
    except (ValueError, TypeError):
        return False
    return key.public_key().public_numbers() == cert.public_key().public_numbers() and cert.not_valid_after_utc - _now() > RENEW_BEFORE


def _general_name(value: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(value))
    except ValueError:
        return x509.DNSName(value)


def _normalise(value: str) -> object:
    try:
        return ipaddress.ip_address(value)
    except ValueError:
        return value


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)


def _cert_pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption())


@dataclass(frozen=True)
class ServingCredentials:
    """Credentials of a federation API server: a CA, its serving pair, a bearer token and a password."""

    ca: KeyPair
    server: KeyPair
    token: str
    password: str


def renew(ca: KeyPair | None, server: KeyPair | None, token: str | None, password: str | None, common_name: str, sans: list[str]) -> tuple[ServingCredentials, list[str]]:
    """Keep each part of earlier credentials that is still valid and make the rest.

    Returns the credentials and the names of the parts made new (empty when
    everything was reused). The token and password survive a new CA or
    serving certificate, so clients keep working when only the address changed.
    """
    made: list[str] = []
    if ca is None or not ca_still_valid(ca):
        ca = generate_ca(f"{common_name}-ca")
        made.append("CA")
    if server is None or not still_valid(server, ca, sans):
        server = issue(ca, common_name, sans)
        made.append("serving certificate")
    if not token:
        token = random_token()
        made.append("token")
    if not password:
        password = random_password()
        made.append("password")
    return ServingCredentials(ca, server, token, password), made


def serving_credentials(previous: ServingCredentials | None, common_name: str, sans: list[str]) -> tuple[ServingCredentials, bool]:
    """Reuse ``previous`` while it is still valid for ``sans``; return the credentials and whether nothing changed."""
    if previous is None:
        credentials, _ = renew(None, None, None, None, common_name, sans)
        return credentials, False
    credentials, made = renew(previous.ca, previous.server, previous.token, previous.password, common_name, sans)
    return credentials, not made
