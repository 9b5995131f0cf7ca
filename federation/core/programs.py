"""External programs (kind, docker, make, git) run through the ``sh`` library.

Commands are argument lists, never shell strings. Failures become
``CommandFailed`` with the command in a form that can be pasted into a shell,
and a missing binary becomes a ``PreflightFailed`` naming the fix.
"""

from __future__ import annotations

import logging
import os
import shlex
from collections.abc import Mapping

from federation.core.errors import CommandFailed, PreflightFailed

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 600.0  # seconds; kind create cluster and image builds take minutes


def run(program: str, *args: str, timeout: float = DEFAULT_TIMEOUT, env: Mapping[str, str] | None = None, cwd: str | None = None, hint: str | None = None) -> str:
    """Run ``program args...`` and return its stdout; raise ``CommandFailed`` on a non-zero exit."""
    import sh

    try:
        command = sh.Command(program)
    except sh.CommandNotFound:
        raise PreflightFailed(f"{program} not found in PATH", hint=f"install {program}, or put it on PATH") from None

    pasted = shlex.join([program, *args])
    log.debug("running %s", pasted)
    try:
        return command(*args, _timeout=timeout, _env={**os.environ, **(env or {})}, _cwd=cwd, _tty_out=False, _err_to_out=False)
    except sh.ErrorReturnCode as error:
        stderr = error.stderr.decode(errors="replace") if error.stderr else ""
        raise CommandFailed(pasted, error.exit_code, stderr, hint) from None
    except sh.TimeoutException:
        raise CommandFailed(pasted, -1, f"timed out after {timeout:.0f}s", hint) from None
