"""External programs (kind, docker, make, git) run through the ``sh`` library.

Commands are argument lists, never shell strings. Failures become
``CommandFailed`` with the command in a form that can be pasted into a shell,
and a missing binary becomes a ``PreflightFailed`` naming the fix.
"""

from __future__ import annotations

import collections
import logging
import os
import shlex
from collections.abc import Mapping
from typing import TextIO

from federation.core.errors import CommandFailed, PreflightFailed

log = logging.getLogger(__name__)

# Lines of streamed output kept for the error message when the program fails.
STREAM_KEPT_LINES = 40

DEFAULT_TIMEOUT = 600.0  # seconds; kind create cluster and image builds take minutes


def run(
    program: str,
    *args: str,
    timeout: float = DEFAULT_TIMEOUT,
    env: Mapping[str, str] | None = None,
    cwd: str | None = None,
    hint: str | None = None,
    stream: TextIO | None = None,
) -> str:
    """Run ``program args...`` and return its stdout; raise ``CommandFailed`` on a non-zero exit.

    With ``stream``, stdout and stderr are copied there line by line as the
    program runs (for builds that take minutes), ``""`` is returned, and the
    error keeps the last lines of both.
    """
    import sh

    try:
        command = sh.Command(program)
    except sh.CommandNotFound:
        raise PreflightFailed(f"{program} not found in PATH", hint=f"install {program}, or put it on PATH") from None

    pasted = shlex.join([program, *args])
    log.debug("running %s", pasted)
    options: dict = {"_err_to_out": False}
    kept: collections.deque[str] = collections.deque(maxlen=STREAM_KEPT_LINES)
    if stream is not None:

        def copy_line(line: str) -> None:
            kept.append(line)
            stream.write(line)
            stream.flush()

        options = {"_out": copy_line, "_err": copy_line}

    try:
        output = command(*args, _timeout=timeout, _env={**os.environ, **(env or {})}, _cwd=cwd, _tty_out=False, **options)
        return "" if stream is not None else output
    except sh.ErrorReturnCode as error:
        stderr = error.stderr.decode(errors="replace") if error.stderr else ""
        if stream is not None:
            stderr = "".join(kept)
        raise CommandFailed(pasted, error.exit_code, stderr, hint) from None
    except sh.TimeoutException:
        raise CommandFailed(pasted, -1, f"timed out after {timeout:.0f}s", hint) from None
