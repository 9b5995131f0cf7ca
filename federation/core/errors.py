"""Errors users can act on, and the exit codes they map to.

Every expected failure is a ``FederationError``: the command-line layer prints
its message and hint and exits with its code, without a traceback. Anything
else is a bug and keeps its traceback.
"""

from __future__ import annotations

import enum


class ExitCode(enum.IntEnum):
    """Exit codes shared by every script; the README lists them."""

    OK = 0
    FAILED = 1  # a cluster, API or external program failed
    USAGE = 2  # unknown action or flag
    INVALID_INPUT = 3  # a variable, file or flag has a bad value
    PREFLIGHT = 4  # the target cluster lacks something the job needs
    TIMEOUT = 5  # a bounded wait ran out
    LOCKED = 6  # another run holds the lock on the same output root or kubeconfig
    RBAC_UNAVAILABLE = 123  # kept from federation-up.sh's wait_for_rbac
    INTERRUPTED = 130  # 128 + SIGINT
    TERMINATED = 143  # 128 + SIGTERM


class FederationError(Exception):
    """A failure with a message for the user, a hint and an exit code."""

    exit_code = ExitCode.FAILED

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


class UsageError(FederationError):
    exit_code = ExitCode.USAGE


class InvalidInput(FederationError):
    """A variable, flag or file contains a value the scripts cannot use."""

    exit_code = ExitCode.INVALID_INPUT

    @classmethod
    def variable(cls, name: str, value: object, problem: str, fix: str) -> "InvalidInput":
        """Build the error for one setting: ``NAME='value' <problem>`` plus the fix."""
        return cls(f"{name}={value!r} {problem}", hint=fix)


class PreflightFailed(FederationError):
    exit_code = ExitCode.PREFLIGHT


class WaitTimeout(FederationError):
    exit_code = ExitCode.TIMEOUT


class Locked(FederationError):
    exit_code = ExitCode.LOCKED


class ClusterError(FederationError):
    """The Kubernetes API returned an error the scripts cannot recover from."""


class CommandFailed(FederationError):
    """An external program (docker, kind, make, git) exited non-zero."""

    def __init__(self, command: str, exit_code: int, stderr: str, hint: str | None = None) -> None:
        tail = "\n".join(stderr.strip().splitlines()[-20:])
        message = f"command failed with exit code {exit_code}: {command}"
        if tail:
            message += f"\n{tail}"
        super().__init__(message, hint)
        self.command = command
        self.returncode = exit_code
        self.stderr = stderr


class Interrupted(FederationError):
    exit_code = ExitCode.INTERRUPTED
