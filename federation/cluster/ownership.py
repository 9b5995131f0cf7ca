"""Ownership of the host namespace: the federations it belongs to, read from the host cluster.

federation-up.sh labels only a namespace it creates, and federation-down.sh
deletes a namespace only when it carries this federation's label. Both read
the owner here, so that a namespace the user already had, or a system
namespace, is never deleted with everything in it.
"""

from __future__ import annotations

from federation.core.apply import OWNER_LABEL
from federation.core.kube import Cluster

# Namespaces that federation-up.sh never labels once they exist and federation-down.sh never deletes, whatever labels they carry.
PROTECTED_NAMESPACES = frozenset({"default", "kube-system", "kube-public", "kube-node-lease"})

CONTROLLER_MANAGER_COMMAND = "federation-controller-manager"  # the hyperkube subcommand in both mechanisms' Deployments
FEDERATION_NAME_FLAG = "--federation-name"


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


def federation_name_flags(deployment: dict) -> list[str]:
    """Return the ``--federation-name`` values of the Deployment's federation-controller-manager containers."""
    names = []
    containers = ((deployment.get("spec") or {}).get("template") or {}).get("spec", {}).get("containers") or []
    for container in containers:
        arguments = [str(argument) for argument in (container.get("command") or []) + (container.get("args") or [])]
        if CONTROLLER_MANAGER_COMMAND not in arguments:
            continue
        for index, argument in enumerate(arguments):
            if argument.startswith(FEDERATION_NAME_FLAG + "="):
                names.append(argument.split("=", 1)[1])
            elif argument == FEDERATION_NAME_FLAG and index + 1 < len(arguments):
                names.append(arguments[index + 1])
    return names


def federations_in_namespace(host: Cluster, namespace: str) -> set[str]:
    """Return the federations the host runs in ``namespace``.

    The names come from the ``--federation-name`` flag of every controller
    manager Deployment in the namespace and from the namespace's ownership
    label. An empty set means nothing of a federation was found there.
    """
    stored = host.get("v1", "Namespace", namespace)
    if stored is None:
        return set()

    found = {name for deployment in host.list("apps/v1", "Deployment", namespace) for name in federation_name_flags(deployment)}
    owner = namespace_owner(stored)
    if owner:
        found.add(owner)
    return found
