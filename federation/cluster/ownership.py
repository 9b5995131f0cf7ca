"""Ownership of the host namespace: the federation it belongs to, read from its label.

federation-up.sh labels only a namespace it creates, and federation-down.sh
deletes a namespace only when it carries this federation's label. Both read
the owner here, so that a namespace the user already had, or a system
namespace, is never deleted with everything in it.
"""

from __future__ import annotations

from federation.core.apply import OWNER_LABEL

# Namespaces that federation-up.sh never labels once they exist and federation-down.sh never deletes, whatever labels they carry.
PROTECTED_NAMESPACES = frozenset({"default", "kube-system", "kube-public", "kube-node-lease"})


def namespace_owner(namespace: dict | None) -> str | None:
    """Return the federation named by the namespace's ownership label, or None when it has none."""
    labels = ((namespace or {}).get("metadata") or {}).get("labels") or {}
    return labels.get(OWNER_LABEL) or None


def owns_namespace(namespace: dict | None, federation_name: str) -> bool:
    """Return whether the namespace exists, is not a system namespace and carries this federation's label."""
    if namespace is None:
        return False
    if namespace.get("metadata", {}).get("name") in PROTECTED_NAMESPACES:
        return False
    return namespace_owner(namespace) == federation_name

