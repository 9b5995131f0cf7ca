"""What every command-line entry point shares: common flags, signals and exit codes.

Expected failures (``FederationError``) print ``error: <message>`` and
``hint: <fix>`` on stderr and exit with their code; a traceback appears only
with ``-v``. SIGTERM is turned into an exception like Ctrl-C, so ``finally``
blocks and lock releases run on both.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import traceback
from collections.abc import Callable

from federation.core.errors import ExitCode, FederationError, UsageError
from federation.core.status import configure_logging

log = logging.getLogger(__name__)


class Terminated(BaseException):
    """Raised in the main thread when SIGTERM arrives."""


class ArgumentParser(argparse.ArgumentParser):
    """argparse that raises ``UsageError`` instead of exiting, so exit codes stay in one place."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(f"{self.prog}: {message}", hint=f"run {self.prog} --help for the valid actions and flags")


def add_common_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-v", "--verbose", action="count", default=0, help="show debug logs (-vv adds HTTP and subprocess logs; secrets are never logged)")
    parser.add_argument("-q", "--quiet", action="store_true", help="print only warnings, errors and the final result")


def run_main(body: Callable[[list[str]], int | None], argv: list[str] | None = None) -> int:
    """Call ``body(argv)`` and turn its outcome into an exit code."""
    argv = sys.argv[1:] if argv is None else argv
    verbose = sum(arg.count("v") for arg in argv if arg.startswith("-v") and set(arg[1:]) == {"v"}) + argv.count("--verbose")
    configure_logging(verbose)
    previous = signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        # The outer handlers catch a signal that arrives while an error is being reported,
        # so a signal never ends the process with a traceback.
        try:
            return _run(body, argv, verbose)
        except KeyboardInterrupt:
            print("\ninterrupted: nothing half-written was left; run the same command again to finish", file=sys.stderr)
            return int(ExitCode.INTERRUPTED)
        except Terminated:
            print("terminated: nothing half-written was left; run the same command again to finish", file=sys.stderr)
            return int(ExitCode.TERMINATED)
    except KeyboardInterrupt:
        return int(ExitCode.INTERRUPTED)
    except Terminated:
        return int(ExitCode.TERMINATED)
    finally:
        signal.signal(signal.SIGTERM, previous)


def _run(body: Callable[[list[str]], int | None], argv: list[str], verbose: int) -> int:
    try:
        return int(body(argv) or ExitCode.OK)
    except FederationError as error:
        if verbose:
            traceback.print_exc()
        print(f"error: {error.message}", file=sys.stderr)
        if error.hint:
            print(f"hint: {error.hint}", file=sys.stderr)
        if not verbose and error.exit_code == ExitCode.FAILED:
            print("(run with -v for details)", file=sys.stderr)
        return int(error.exit_code)


def _raise_terminated(signum: int, frame: object) -> None:
    raise Terminated()
