"""Politeness towards a commune's server, shared by the rooms that fetch many URLs (the link checker, the
DataStore loader): per host, at most ``concurrency`` requests in flight from one process, and request starts
at least ``interval`` seconds apart across all workers (slots reserved in Redis under ``redis_key``), so that
a server never sees a burst from us. Each user keeps its own key and reads its own options."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit

log = logging.getLogger(__name__)

# The link checker's key (quality/host_limiter.py); another user passes its own.
REDIS_KEY = "communes:linkcheck:host:{host}"

# Reserve the next start slot of a host: returns the slot (ms since the epoch), and moves the host's next free
# slot one interval later. Atomic across workers.
_RESERVE_LUA = """
local now = tonumber(ARGV[1])
local interval = tonumber(ARGV[2])
local nxt = tonumber(redis.call('GET', KEYS[1]) or '0')
local slot = math.max(now, nxt)
redis.call('SET', KEYS[1], tostring(slot + interval), 'PX', interval + 60000)
return tostring(slot)
"""


class HostLimiter:
    """Per host: at most ``concurrency`` requests in flight from this process, starts ``interval`` apart
    across processes (Redis). Without Redis (it is CKAN's job queue: always there), the interval is kept
    within the process."""

    def __init__(self, concurrency: int, interval: float, redis_key: str = REDIS_KEY) -> None:
        self.concurrency = max(1, int(concurrency))
        self.interval = max(0.0, float(interval))
        self.redis_key = redis_key
        self._lock = threading.Lock()
        self._semaphores: dict[str, threading.BoundedSemaphore] = {}
        self._local_next: dict[str, float] = {}
        self._redis: Any = None
        self._script: Any = None
        try:
            from ckan.lib.redis import connect_to_redis

            self._redis = connect_to_redis()
            self._script = self._redis.register_script(_RESERVE_LUA)
        except Exception:  # noqa: BLE001 - no Redis: in-process spacing only
            self._redis = None

    def _semaphore(self, host: str) -> threading.BoundedSemaphore:
        with self._lock:
            if host not in self._semaphores:
                self._semaphores[host] = threading.BoundedSemaphore(self.concurrency)
            return self._semaphores[host]

    def _reserve(self, host: str) -> float:
        """Seconds to wait before starting."""
        if self.interval <= 0:
            return 0.0
        if self._script is not None:
            try:
                now_ms = int(time.time() * 1000)
                slot = float(self._script(keys=[self.redis_key.format(host=host)],
                                          args=[now_ms, int(self.interval * 1000)]))
                return max(0.0, (slot - now_ms) / 1000)
            except Exception:  # noqa: BLE001 - Redis went away mid-run: fall back to the process
                log.warning("Per-host rate limit (%s): Redis unavailable, spacing within the process only",
                            self.redis_key)
                self._script = None
        with self._lock:
            now = time.monotonic()
            slot = max(now, self._local_next.get(host, 0.0))
            self._local_next[host] = slot + self.interval
        return slot - now

    @contextmanager
    def slot(self, url: str) -> Iterator[None]:
        host = (urlsplit(url).hostname or "").lower()
        semaphore = self._semaphore(host)
        with semaphore:
            wait = self._reserve(host)
            if wait > 0:
                time.sleep(wait)
            yield


def interleaved(urls: Iterable[str]) -> list[str]:
    """Round-robin over the hosts: a thread waiting for one host's next slot is not followed by every other
    thread queueing for the same host while other hosts sit idle."""
    by_host: dict[str, list[str]] = {}
    for url in urls:
        by_host.setdefault((urlsplit(url).hostname or "").lower(), []).append(url)
    queues = list(by_host.values())
    ordered: list[str] = []
    for index in range(max((len(q) for q in queues), default=0)):
        ordered.extend(q[index] for q in queues if index < len(q))
    return ordered
