"""The shared keep-alive (keepalive.py) the gather's heartbeat and the scheduled tasks' lock use: refreshed
from a thread while the block runs, at once when asked, never after the block, nor after a refresh said
that what it kept alive is lost."""

from __future__ import annotations

import threading
import time

from ckanext.communes.keepalive import kept_alive


def test_refreshed_while_the_block_runs_and_never_after():
    calls: list[float] = []
    with kept_alive(lambda: calls.append(time.monotonic()), every=0.05, name="test-keepalive", immediately=True):
        time.sleep(0.3)
        assert [t.name for t in threading.enumerate()].count("test-keepalive") == 1
    during = len(calls)
    assert during >= 4  # at once, then every 0.05 s
    time.sleep(0.2)
    assert len(calls) == during and "test-keepalive" not in [t.name for t in threading.enumerate()]


def test_the_first_refresh_waits_unless_asked_and_a_lost_refresh_ends_the_refreshing():
    calls: list[int] = []
    with kept_alive(lambda: calls.append(1), every=10, name="test-keepalive-late"):
        time.sleep(0.1)
    assert calls == []

    def lost() -> bool:
        calls.append(1)
        return False

    with kept_alive(lost, every=0.02, name="test-keepalive-lost"):
        time.sleep(0.2)
    assert calls == [1]
