"""What the schedule keeps between rounds, in CKAN's Redis (cheap, shared by every runner): per task its last
run (start, end, outcome, counts, error) and the start of its last successful run, from which the next one is
planned; and the lock that keeps two runners (two containers) from running one task at once.

Redis lost (restarted without persistence): every task is due again and runs at the next round, which is
harmless (a recompute, link checks already due); the page says "never run" until then."""

from __future__ import annotations

import datetime as dt
import json
import logging
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import ckan.plugins.toolkit as tk

from ckanext.communes.keepalive import kept_alive

log = logging.getLogger(__name__)

# A held lock expires LOCK_TTL seconds after its runner stopped refreshing it (killed, host down), so that a
# task is never blocked for longer; a live runner refreshes it every LOCK_TTL / 3 seconds.
LOCK_TTL = 120
ISO = "%Y-%m-%dT%H:%M:%S"

# Refresh or release a lock only if it is still ours (its token): a lock that expired and was taken by
# another runner is not touched.
_REFRESH_LUA = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
"""
_RELEASE_LUA = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


def redis_client() -> Any:
    from ckan.lib.redis import connect_to_redis

    return connect_to_redis()


def prefix() -> str:
    return f"communes:schedule:{tk.config.get('ckan.site_id') or ''}"


def status_key(task: str) -> str:
    return f"{prefix()}:{task}"


def lock_key(task: str) -> str:
    return f"{prefix()}:{task}:lock"


def _when(value: Any) -> dt.datetime | None:
    if not value:
        return None
    text = value.decode() if isinstance(value, bytes) else str(value)
    try:
        return dt.datetime.strptime(text[:19], ISO)
    except ValueError:
        return None


def _text(value: Any) -> str | None:
    if value is None:
        return None
    return value.decode() if isinstance(value, bytes) else str(value)


@dataclass
class TaskStatus:
    """The last run of a task (times naive UTC); all None when it never ran (or Redis forgot)."""

    started_at: dt.datetime | None = None
    finished_at: dt.datetime | None = None
    outcome: str | None = None  # "ok" or "failed"
    counts: dict[str, int] = field(default_factory=dict)
    error: str | None = None
    succeeded_at: dt.datetime | None = None  # start of the last successful run: what the schedule counts from
    failures: int = 0  # failed runs in a row
    running_since: dt.datetime | None = None  # a runner holds the task's lock now


def read(task: str, client: Any = None) -> TaskStatus:
    client = client or redis_client()
    raw = {(_text(k) or ""): v for k, v in (client.hgetall(status_key(task)) or {}).items()}
    try:
        counts = json.loads(_text(raw.get("counts")) or "{}")
    except ValueError:
        counts = {}
    # The start written by the runner that holds the lock; an expired lock (its runner died) runs nothing.
    running = _when(raw.get("running_since")) if client.exists(lock_key(task)) else None
    return TaskStatus(
        started_at=_when(raw.get("started_at")), finished_at=_when(raw.get("finished_at")),
        outcome=_text(raw.get("outcome")), counts=counts if isinstance(counts, dict) else {},
        error=_text(raw.get("error")) or None, succeeded_at=_when(raw.get("succeeded_at")),
        failures=int(_text(raw.get("failures")) or 0), running_since=running,
    )


def record(task: str, started: dt.datetime, finished: dt.datetime, counts: dict[str, int] | None,
           error: str | None, client: Any = None) -> None:
    """Store the end of a run: succeeded (``error`` None) or failed."""
    client = client or redis_client()
    key = status_key(task)
    fields = {"started_at": started.strftime(ISO), "finished_at": finished.strftime(ISO),
              "outcome": "failed" if error else "ok", "counts": json.dumps(counts or {}), "error": error or ""}
    if error:
        client.hset(key, mapping=fields)
        client.hincrby(key, "failures", 1)
    else:
        client.hset(key, mapping={**fields, "succeeded_at": started.strftime(ISO), "failures": 0})


class LockHeld(Exception):
    """Another runner runs the task now."""


@contextmanager
def task_lock(task: str, started: dt.datetime, client: Any = None, ttl: int = LOCK_TTL) -> Iterator[None]:
    """Hold the task's lock while the block runs (refreshed from a thread); LockHeld when another runner holds
    it. The lock expires ``ttl`` seconds after its holder died."""
    client = client or redis_client()
    key, token = lock_key(task), uuid.uuid4().hex
    if not client.set(key, token, nx=True, px=ttl * 1000):
        raise LockHeld(task)
    client.hset(status_key(task), "running_since", started.strftime(ISO))  # for the page
    refresh, release = client.register_script(_REFRESH_LUA), client.register_script(_RELEASE_LUA)

    def keep() -> bool:
        try:
            if not refresh(keys=[key], args=[token, ttl * 1000]):
                log.warning("scheduled task %s: its lock was lost (expired); another runner may start it", task)
                return False
        except Exception as error:  # noqa: BLE001 - Redis blip: try again; the TTL covers a long outage
            log.warning("scheduled task %s: lock not refreshed (%s)", task, error)
        return True

    try:
        with kept_alive(keep, every=max(1.0, ttl / 3), name=f"schedule-lock-{task}"):
            yield
    finally:
        try:
            release(keys=[key], args=[token])
        except Exception as error:  # noqa: BLE001 - it expires by itself
            log.warning("scheduled task %s: lock not released (%s); it expires in %d s", task, error, ttl)
