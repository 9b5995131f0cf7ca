"""Progress lines on stderr, in the manner of kind's status output.

Each step prints `` • <message> ...`` when it starts and `` ✓ <message>`` or
`` ✗ <message>`` when it ends. Output meant for other programs (the final
``kubectl get deployments`` table, ``-o json`` plans) goes to stdout.
Decoration is plain text unless stderr is a terminal without ``NO_COLOR``.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import time
from collections.abc import Iterator
from typing import TextIO


def smart_terminal(stream: TextIO, environ: dict[str, str] | os._Environ = os.environ) -> bool:
    """Return whether ``stream`` can show colour: a TTY, no ``NO_COLOR``, no dumb terminal, not CI."""
    if environ.get("NO_COLOR") or environ.get("TERM") == "dumb" or environ.get("CI"):
        return False
    return hasattr(stream, "isatty") and stream.isatty()


class Status:
    """Writes step start and end lines with durations."""

    def __init__(self, stream: TextIO | None = None, quiet: bool = False) -> None:
        self.stream = stream or sys.stderr
        self.quiet = quiet
        colour = smart_terminal(self.stream)
        self._ok = "\x1b[32m✓\x1b[0m" if colour else "✓"
        self._failed = "\x1b[31m✗\x1b[0m" if colour else "✗"

    def line(self, message: str) -> None:
        """Print one progress line (kept verbatim where other scripts grep for it)."""
        if not self.quiet:
            print(message, file=self.stream, flush=True)

    def warn(self, message: str) -> None:
        print(f"warning: {message}", file=self.stream, flush=True)

    @contextlib.contextmanager
    def step(self, message: str) -> Iterator[None]:
        """Frame a step: the end line is ✗ when the block raises, ✓ with its duration otherwise."""
        self.line(f" • {message} ...")
        started = time.monotonic()
        try:
            yield
        except BaseException:
            self.line(f" {self._failed} {message}")
            raise
        self.line(f" {self._ok} {message} ({format_duration(time.monotonic() - started)})")


def format_duration(seconds: float) -> str:
    if seconds < 10:
        return f"{seconds:.1f}s"
    minutes, rest = divmod(int(seconds), 60)
    return f"{minutes}m{rest:02d}s" if minutes else f"{rest}s"


def configure_logging(verbosity: int) -> None:
    """Send logs to stderr; ``-v`` shows DEBUG, and libraries stay quiet below ``-vv``.

    The ``kubernetes`` client logs whole response bodies at DEBUG, Secrets
    included, so its logger stays at WARNING at every verbosity.
    """
    level = logging.DEBUG if verbosity > 0 else logging.WARNING
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr, force=True)
    library_level = logging.DEBUG if verbosity > 1 else logging.WARNING
    for name in ("sh", "urllib3"):
        logging.getLogger(name).setLevel(library_level)
    logging.getLogger("kubernetes").setLevel(logging.WARNING)
