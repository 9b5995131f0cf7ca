"""Fault injection for one API server: failed requests, latency and reset connections."""

from __future__ import annotations

import threading
from dataclasses import dataclass


@dataclass
class FaultDecision:
    """What the server does to one request before handling it."""

    delay: float = 0.0
    reset: bool = False
    fail_status: int | None = None


class Faults:
    """Faults applied to the next requests of an API server; safe to change from any thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._fail_remaining = 0
        self._fail_status = 500
        self._latency = 0.0
        self._reset_remaining = 0

    def fail_next(self, count: int, status: int = 500) -> None:
        """Answer the next `count` requests with `status` (500 or 503) and a Status body."""
        if status not in (500, 503):
            raise ValueError(f"fault status must be 500 or 503, got {status}")
        with self._lock:
            self._fail_remaining = count
            self._fail_status = status

    def latency(self, seconds: float) -> None:
        """Delay every request by `seconds` before handling it."""
        with self._lock:
            self._latency = max(0.0, seconds)

    def reset_next(self, count: int) -> None:
        """Close the connection of the next `count` requests without sending a response."""
        with self._lock:
            self._reset_remaining = count

    def clear(self) -> None:
        with self._lock:
            self._fail_remaining = 0
            self._reset_remaining = 0
            self._latency = 0.0

    def decide(self) -> FaultDecision:
        """Consume one request's worth of the configured faults."""
        with self._lock:
            decision = FaultDecision(delay=self._latency)
            if self._reset_remaining > 0:
                self._reset_remaining -= 1
                decision.reset = True
            elif self._fail_remaining > 0:
                self._fail_remaining -= 1
                decision.fail_status = self._fail_status
            return decision
