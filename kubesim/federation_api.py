"""Emulated federation API servers (placeholder until the emulation lands)."""

from __future__ import annotations

from typing import Any


class FederationManager:
    def __init__(self, cluster) -> None:
        self.cluster = cluster

    def start(self) -> None:
        pass

    async def stop(self) -> None:
        pass

    def describe(self) -> list[dict[str, Any]]:
        return []
