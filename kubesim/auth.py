"""Authentication of API requests: bearer tokens, basic auth and client certificates."""

from __future__ import annotations

import base64
import hmac
from dataclasses import dataclass, field
from typing import Callable

from aiohttp import web


@dataclass
class Authenticator:
    """Decides whether a request carries acceptable credentials.

    `tokens` returns the currently valid bearer tokens, so tokens added to the
    store later (ServiceAccount token Secrets) are accepted without a restart.
    Client certificates are verified by the TLS layer against the CA that the
    server's SSL context loads, so any presented certificate is already trusted.
    """

    allow_anonymous: bool = True
    tokens: Callable[[], set[str]] = field(default=lambda: set())
    basic_users: dict[str, str] = field(default_factory=dict)  # user -> password

    def authenticate(self, request: web.Request) -> bool:
        if self._client_certificate(request):
            return True

        header = request.headers.get("Authorization", "")
        scheme, _, credentials = header.partition(" ")
        if scheme.lower() == "bearer" and credentials:
            return any(hmac.compare_digest(credentials.strip(), t) for t in self.tokens())
        if scheme.lower() == "basic" and credentials:
            try:
                user, _, password = base64.b64decode(credentials).decode().partition(":")
            except (ValueError, UnicodeDecodeError):
                return False
            expected = self.basic_users.get(user)
            return expected is not None and hmac.compare_digest(password, expected)
        if header:
            return False
        return self.allow_anonymous

    @staticmethod
    def _client_certificate(request: web.Request) -> bool:
        transport = request.transport
        if transport is None:
            return False
        ssl_object = transport.get_extra_info("ssl_object")
        return ssl_object is not None and bool(ssl_object.getpeercert())
