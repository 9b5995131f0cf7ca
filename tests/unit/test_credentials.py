"""Certificates, tokens and their reuse."""

from __future__ import annotations

import string

from cryptography import x509

from federation.core.credentials import generate_ca, issue, random_password, random_token, serving_credentials, still_valid


def test_token_and_password_shapes():
    token = random_token()
    password = random_password()

    assert len(token) == 32
    assert len(password) == 16
    assert set(token + password) <= set(string.ascii_letters + string.digits)
    assert random_token() != token


def test_server_certificate_covers_names_and_addresses():
    ca = generate_ca("test-ca")

    pair = issue(ca, "federation-apiserver", ["127.0.0.2", "federation-apiserver.federation.svc"])

    names = pair.certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "federation-apiserver.federation.svc" in names.get_values_for_type(x509.DNSName)
    assert [str(address) for address in names.get_values_for_type(x509.IPAddress)] == ["127.0.0.2"]


def test_still_valid_checks_issuer_and_names():
    ca = generate_ca("a")
    other = generate_ca("b")
    pair = issue(ca, "server", ["10.0.0.1"])

    assert still_valid(pair, ca, ["10.0.0.1"])
    assert not still_valid(pair, other, ["10.0.0.1"])
    assert not still_valid(pair, ca, ["10.0.0.2"])


def test_serving_credentials_reused_while_valid():
    first, reused_first = serving_credentials(None, "federation-apiserver", ["127.0.0.2"])

    second, reused_second = serving_credentials(first, "federation-apiserver", ["127.0.0.2"])

    assert not reused_first
    assert reused_second
    assert second == first


def test_new_address_reissues_server_but_keeps_ca_and_token():
    first, _ = serving_credentials(None, "federation-apiserver", ["127.0.0.2"])

    second, reused = serving_credentials(first, "federation-apiserver", ["127.0.0.3"])

    assert not reused
    assert second.ca == first.ca
    assert second.token == first.token
    assert second.server != first.server
    assert still_valid(second.server, second.ca, ["127.0.0.3"])
