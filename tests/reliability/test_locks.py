"""exclusive_lock: one holder at a time, no file left behind, waiters that survive the file's removal."""

from __future__ import annotations

import threading
import time

import pytest

from federation.core.errors import Locked
from federation.core.files import exclusive_lock


def test_lock_file_removed_on_release(tmp_path):
    with exclusive_lock(tmp_path / ".deploy", "FEDERATION_OUTPUT_ROOT"):
        assert (tmp_path / ".deploy.lock").exists()

    assert list(tmp_path.iterdir()) == []


def test_lock_file_removed_when_body_raises(tmp_path):
    with pytest.raises(RuntimeError):
        with exclusive_lock(tmp_path / ".deploy", "FEDERATION_OUTPUT_ROOT"):
            raise RuntimeError("step failed")

    assert list(tmp_path.iterdir()) == []


def test_second_holder_refused_naming_pid(tmp_path):
    with exclusive_lock(tmp_path / ".deploy", "FEDERATION_OUTPUT_ROOT"):
        with pytest.raises(Locked) as refused:
            with exclusive_lock(tmp_path / ".deploy", "FEDERATION_OUTPUT_ROOT"):
                pass

    assert "another run (pid " in refused.value.message
    assert "FEDERATION_OUTPUT_ROOT" in refused.value.message


def test_waiters_never_overlap(tmp_path):
    """Waiters that opened the file before the holder removed it must not lock the removed file."""
    inside = []
    overlaps = []
    lock = threading.Lock()

    def worker() -> None:
        for _ in range(20):
            with exclusive_lock(tmp_path / "config", "the kubeconfig", wait_seconds=30):
                with lock:
                    inside.append(1)
                    if len(inside) > 1:
                        overlaps.append(len(inside))
                time.sleep(0.001)
                with lock:
                    inside.pop()

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert overlaps == []
    assert not (tmp_path / "config.lock").exists()
