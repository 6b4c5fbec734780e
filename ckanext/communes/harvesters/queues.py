"""ckanext-harvest's Redis as our queue workers, synchronous runs and stale-job closing use it: a client with
explicit timeouts, the names of the two queues, and the heartbeat that says a job is being gathered.

The names are ckanext-harvest's own (its routing keys, and ``<routing key>:<message>`` for the persistence
key of a message a worker took), so that its publishers and its resubmission of lost messages apply
unchanged. The heartbeat is ours: written by the gather worker (workers.py) and the synchronous run
(actions.py) while they gather, read by stale_jobs.py, which must not close a job somebody is working on.
"""

from __future__ import annotations

import contextlib
import datetime
import logging
from collections.abc import Iterator

import ckan.plugins.toolkit as tk
import redis

from ckanext.communes.keepalive import kept_alive

log = logging.getLogger(__name__)

GATHER = "gather"
FETCH = "fetch"

# redis-py 8 gives every client a 5 s socket timeout, which ends a blocking read on an idle queue: our
# clients wait longer, and keep their connections alive.
SOCKET_TIMEOUT = 30.0
HEALTH_CHECK_INTERVAL = 25  # redis-py pings a connection idle for longer before reusing it
# Heartbeat of a gather in progress: refreshed every TTL/3 s, gone TTL s after the worker died.
HEARTBEAT_TTL = 90


def harvest_redis(socket_timeout: float = SOCKET_TIMEOUT,
                  health_check_interval: int = HEALTH_CHECK_INTERVAL) -> redis.Redis:
    """A client for ckanext-harvest's Redis (same URL / host settings), with explicit timeouts and TCP
    keepalive instead of redis-py's 5 s default (which ends a blocking read on an idle queue)."""
    from ckanext.harvest.queue import get_connection_redis

    client = get_connection_redis()  # no connection is opened before the first command
    client.connection_pool.connection_kwargs.update(
        socket_timeout=socket_timeout,
        socket_connect_timeout=min(10.0, socket_timeout or 10.0),
        socket_keepalive=True,
        health_check_interval=health_check_interval,
    )
    return client


def routing_key(kind: str) -> str:
    """The Redis list of the ``GATHER`` or ``FETCH`` queue."""
    from ckanext.harvest import queue

    return queue.get_gather_routing_key() if kind == GATHER else queue.get_fetch_routing_key()


def heartbeat_key(job_id: str) -> str:
    # Not under the routing key's "<key>:*" namespace: resubmit_jobs() reads every key there as a date.
    site_id = tk.config.get("ckan.site_id") or "default"
    return f"ckanext-communes:{site_id}:gather-alive:{job_id}"


@contextlib.contextmanager
def job_heartbeat(job_id: str, client: redis.Redis | None = None, ttl: int = HEARTBEAT_TTL) -> Iterator[None]:
    """While the block runs, a Redis key says the job's gather is alive (refreshed from a thread)."""
    key = heartbeat_key(job_id)
    client = client or harvest_redis()

    def beat() -> None:
        try:
            client.set(key, str(datetime.datetime.utcnow()), ex=ttl)
        except redis.RedisError as error:
            log.debug("heartbeat of job %s not written: %s", job_id, error)

    try:
        with kept_alive(beat, every=max(1, ttl // 3), name=f"heartbeat-{job_id}", immediately=True):
            yield
    finally:
        with contextlib.suppress(redis.RedisError):
            client.delete(key)
