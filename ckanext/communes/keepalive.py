"""Keeping something alive from a thread while a block runs: a Redis key with a time to live that says a
process is still at work (the gather's heartbeat, harvesters/queues.py; a scheduled task's lock,
schedule/store.py). The key expires by itself when the process dies; while it lives, a daemon thread
refreshes it well within its time to live, and stops with the block.

Neutral (shared base): it knows neither Redis nor what is kept alive; each caller gives its refresh, which
handles its own errors (a Redis blip is retried at the next round, the time to live covering it)."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator

# How long the block's end waits for the thread (a refresh in flight) before going on without it.
JOIN_SECONDS = 5


@contextlib.contextmanager
def kept_alive(refresh: Callable[[], bool | None], every: float, name: str, immediately: bool = False
               ) -> Iterator[None]:
    """Call ``refresh`` every ``every`` seconds from a daemon thread named ``name`` while the block runs
    (``immediately``: a first call as the block starts, before the first wait). A refresh returning False
    ends the refreshing (what it kept alive is lost: another process may take it over). The thread is
    stopped when the block ends, before the caller releases what it kept alive."""
    stop = threading.Event()

    def keep() -> None:
        if immediately and refresh() is False:
            return
        while not stop.wait(every):
            if refresh() is False:
                return

    thread = threading.Thread(target=keep, name=name, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=JOIN_SECONDS)
