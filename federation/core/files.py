"""Atomic file writes and advisory locks.

A kubeconfig or a Secret-holding file is either the old content or the new
content, never half of each: the new content goes to a temporary file in the
same directory, is flushed to disk and then renamed over the target.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from federation.core.errors import InvalidInput, Locked

SECRET_MODE = 0o600


def atomic_write(path: Path, data: str | bytes, mode: int = SECRET_MODE) -> None:
    """Replace ``path`` with ``data`` in one rename, creating it with ``mode``."""
    path = Path(path)
    payload = data.encode() if isinstance(data, str) else data
    fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as stream:
            stream.write(payload)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise

    # Make the rename itself durable.
    with contextlib.suppress(OSError):
        directory = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)


@contextlib.contextmanager
def exclusive_lock(target: Path, what: str, wait_seconds: float = 0.0) -> Iterator[None]:
    """Hold an exclusive lock on ``<target>.lock`` so two runs never interleave.

    The lock is an ``flock`` on a side file, released by the kernel when the
    process dies, so a killed run never leaves a stale lock behind. The
    holder removes the side file before releasing the lock, so a finished or
    refused run leaves no file behind; a waiter that then holds a lock on the
    removed file sees that its inode is gone and locks the new file instead.
    """
    lock_path = Path(f"{target}.lock")
    deadline = time.monotonic() + wait_seconds
    while True:
        fd = _open_lock_file(lock_path)
        try:
            _acquire(fd, lock_path, target, what, deadline)
        except BaseException:
            os.close(fd)
            raise
        if _same_file(fd, lock_path):
            break
        os.close(fd)

    try:
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        yield
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(lock_path)
        os.close(fd)


def _open_lock_file(lock_path: Path) -> int:
    try:
        return os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as error:
        raise InvalidInput(f"cannot create lock file {lock_path}: {error.strerror}", hint=f"check that {lock_path.parent} is writable") from None


def _acquire(fd: int, lock_path: Path, target: Path, what: str, deadline: float) -> None:
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except OSError as error:
            if error.errno not in (errno.EAGAIN, errno.EACCES):
                raise
            if time.monotonic() >= deadline:
                holder = _read_holder(fd)
                raise Locked(
                    f"another run{holder} is using {what} ({target})",
                    hint="wait for it to finish, then run this again",
                ) from None
            time.sleep(0.1)


def _same_file(fd: int, lock_path: Path) -> bool:
    """Return whether ``fd`` is still the file at ``lock_path`` (the previous holder may have removed it)."""
    try:
        current = os.stat(lock_path)
    except FileNotFoundError:
        return False
    opened = os.fstat(fd)
    return (opened.st_dev, opened.st_ino) == (current.st_dev, current.st_ino)


def _read_holder(fd: int) -> str:
    try:
        pid = os.pread(fd, 32, 0).decode().strip()
    except OSError:
        return ""
    return f" (pid {pid})" if pid.isdigit() else ""
