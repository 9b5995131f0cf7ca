"""Registering member clusters with a federation (kubefed join and unjoin)."""

from federation.core.registration.endpoint import reachable_server
from federation.core.registration.join import join, join_all, wait_ready
from federation.core.registration.model import Federation, Member, federation_settings, member_from_context, member_from_file, resolve_api_context
from federation.core.registration.unjoin import unjoin

__all__ = [
    "Federation",
    "Member",
    "federation_settings",
    "join",
    "join_all",
    "member_from_context",
    "member_from_file",
    "reachable_server",
    "resolve_api_context",
    "unjoin",
    "wait_ready",
]
