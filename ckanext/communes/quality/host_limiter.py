"""The link checker's politeness towards a commune's server: per host, at most ``per_host_concurrency``
requests in flight from one process, and request starts at least ``per_host_interval`` seconds apart
across all workers (slots reserved in Redis), so that a server never sees a burst from us."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit

from ckanext.communes.quality import options

log = logging.getLogger(__name__)

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

    def __init__(self, concurrency: int | None = None, interval: float | None = None) -> None:
        self.concurrency = max(1, int(concurrency if concurrency is not None
                                      else options.linkcheck_option("per_host_concurrency")))
        self.interval = max(0.0, float(interval if interval is not None
                                       else options.linkcheck_option("per_host_interval")))
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
                slot = float(self._script(keys=[REDIS_KEY.format(host=host)],
                                          args=[now_ms, int(self.interval * 1000)]))
                return max(0.0, (slot - now_ms) / 1000)
            except Exception:  # noqa: BLE001 - Redis went away mid-run: fall back to the process
                log.warning("Link check rate limit: Redis unavailable, spacing within the process only")
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
