"""Undoing a failed join: what this run created goes, what it changed goes back."""

from __future__ import annotations

import logging
from collections.abc import Callable

from federation.core.errors import FederationError
from federation.core.kube import Cluster
from federation.core.resources import describe
from federation.core.status import Status

log = logging.getLogger(__name__)


class Rollback:
    """Undo actions recorded as a join runs, replayed in reverse when it fails.

    Only objects this run created are deleted. An object that existed before
    gets its previous content back, never a deletion.
    """

    def __init__(self, status: Status) -> None:
        self.status = status
        self._undo: list[tuple[str, Callable[[], None]]] = []

    def created(self, cluster: Cluster, obj: dict) -> None:
        metadata = obj["metadata"]

        def delete() -> None:
            cluster.delete(obj["apiVersion"], obj["kind"], metadata["name"], metadata.get("namespace"))

        self._undo.append((f"delete {describe(obj)} in context {cluster.context!r}", delete))

    def restore(self, description: str, action: Callable[[], None]) -> None:
        self._undo.append((description, action))

    def run(self) -> list[str]:
        """Replay the undo actions newest first; return the ones that failed, with their errors."""
        failed = []
        for description, action in reversed(self._undo):
            try:
                action()
            except FederationError as error:
                log.warning("rollback: %s failed: %s", description, error.message)
                failed.append(f"{description}: {error.message}")
            else:
                self.status.line(f"   rolled back: {description}")
        self._undo.clear()
        return failed
