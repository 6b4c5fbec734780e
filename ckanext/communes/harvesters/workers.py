"""Harvest queue workers that survive idle queues and Redis restarts, and the periodic runner.

Why not ``ckan harvester gather-consumer`` / ``fetch-consumer``: ckanext-harvest 1.6.3's
``RedisConsumer.consume`` calls ``BLPOP key 0`` (block forever) on a client built with redis-py's
defaults, and redis-py 8 gives every client a 5 s socket timeout (``redis._defaults.DEFAULT_SOCKET_TIMEOUT``).
An idle queue therefore ends the consumer with ``redis.exceptions.TimeoutError`` about 5 s (+ retries)
after it goes quiet, and any connection error (Redis restarted) ends it too.

What this module does instead, reusing ckanext-harvest's own pieces (``gather_callback``,
``RedisConsumer.persistance_key`` / ``basic_ack``, the routing keys; the fetch callback is stages.py's):

- ``BLPOP`` with a *server-side* timeout (``block_seconds``) shorter than the socket timeout, in a loop:
  an idle queue is just an empty answer, forever;
- on a connection error or timeout: log, wait with exponential backoff, reconnect, carry on;
- a message is never lost once popped: it is protected at once by ckanext-harvest's "persistence key"
  (``<routing key>:<id>``, what ``harvest_jobs_run`` → ``resubmit_jobs`` uses to put back messages whose
  worker died), and if Redis fails before that key is written the message is kept in memory and
  protected after the reconnection, or pushed back to the head of the queue when the worker stops;
- SIGTERM / SIGINT: finish the message in hand, then stop (a second signal stops at once: the message
  keeps its persistence key and ckanext-harvest resubmits it);
- an exception in a callback is logged (and, for a gather, recorded as a gather error of the job), not
  fatal to the worker;
- while a job is being gathered, a heartbeat key says so (queues.py), so that stale_jobs.py does not close
  it; a job whose worker was killed mid-job, or whose queue a Redis restart wiped, is closed there.

The Redis client, the queues' names and the heartbeat are in queues.py; the periodic runner
(:func:`run_periodic`) calls ``harvest_jobs_run``, which our chained action starts by closing stale jobs.
"""

from __future__ import annotations

import contextlib
import datetime
import json
import logging
import signal
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import ckan.plugins.toolkit as tk
import redis
from ckan import model

from ckanext.communes.harvesters.queues import (
    FETCH,  # noqa: F401 - a worker kind, with GATHER (make_worker, cli.py)
    GATHER,
    HEALTH_CHECK_INTERVAL,
    SOCKET_TIMEOUT,
    harvest_redis,
    job_heartbeat,
    routing_key,
)
from ckanext.communes.harvesters.stages import fetch_callback
from ckanext.communes.translation import gettext
from ckanext.harvest.queue import RedisConsumer

log = logging.getLogger(__name__)

Callback = Callable[[Any, Any, Any, str], Any]
RedisFactory = Callable[[], redis.Redis]


@dataclass
class WorkerSettings:
    """Timing of a worker. The server-side block must stay well under the socket timeout."""

    block_seconds: int = 5  # BLPOP timeout on the server: the longest an idle worker waits for a stop
    socket_timeout: float = SOCKET_TIMEOUT
    health_check_interval: int = HEALTH_CHECK_INTERVAL
    backoff_initial: float = 1.0
    backoff_max: float = 60.0

    def __post_init__(self) -> None:
        if self.socket_timeout is not None and self.block_seconds >= self.socket_timeout:
            raise ValueError("block_seconds must be shorter than socket_timeout")


# --------------------------------------------------------------------------------------------------
# The consumer loop

class StopRequested(Exception):
    """A second signal: leave now (the message in hand keeps its persistence key)."""


class QueueWorker:
    """Consumes one ckanext-harvest Redis queue with ``callback(channel, method, header, body)``.

    ``channel`` is ckanext-harvest's ``RedisConsumer`` (its ``basic_ack`` deletes the persistence key),
    ``method`` its ``FakeMethod``: the callbacks run exactly as under ``ckan harvester *-consumer``."""

    def __init__(self, key: str, callback: Callback, *, redis_factory: RedisFactory,
                 settings: WorkerSettings | None = None, name: str = "worker",
                 around_message: Callable[[], contextlib.AbstractContextManager[Any]] | None = None,
                 before_message: Callable[[Any, Any, str], bool] | None = None) -> None:
        self.key = key
        self.callback = callback
        self.redis_factory = redis_factory
        self.settings = settings or WorkerSettings()
        self.name = name
        self.around_message = around_message or contextlib.nullcontext
        # Returns False to skip a message (after acknowledging it).
        self.before_message = before_message
        self.stop_event = threading.Event()
        self.processed = 0
        self.reconnections = 0
        self._signals = 0
        self._consumer: Any = None
        self._pending: str | None = None  # popped, not yet protected by its persistence key

    # signals -------------------------------------------------------------------------------------
    def install_signal_handlers(self) -> None:
        """SIGTERM/SIGINT: stop after the current message; a second one: stop now."""
        def handler(signum: int, _frame: Any) -> None:
            self._signals += 1
            self.stop_event.set()
            if self._signals == 1:
                log.info("%s: signal %s received, stopping after the current message", self.name, signum)
            else:
                raise StopRequested()
        signal.signal(signal.SIGTERM, handler)
        signal.signal(signal.SIGINT, handler)

    def stop(self) -> None:
        self.stop_event.set()

    # connection ----------------------------------------------------------------------------------
    def _connect(self) -> Any:
        if self._consumer is None:
            client = self.redis_factory()
            client.ping()
            self._consumer = ResilientRedisConsumer(client, self.key, self)
        return self._consumer

    def _disconnect(self) -> None:
        if self._consumer is not None:
            with contextlib.suppress(Exception):
                self._consumer.redis.close()
        self._consumer = None

    # main loop -----------------------------------------------------------------------------------
    def run(self) -> None:
        log.info("%s: consuming %s", self.name, self.key)
        backoff = self.settings.backoff_initial
        down_since: float | None = None
        try:
            while not self.stop_event.is_set():
                try:
                    consumer = self._connect()
                    if down_since is not None:
                        log.warning("%s: Redis reachable again after %.0f s", self.name, time.monotonic() - down_since)
                        self.reconnections += 1
                        down_since = None
                    if self._pending is None:
                        item = consumer.redis.blpop([self.key], timeout=self.settings.block_seconds)
                        if item is None:
                            continue  # idle: nothing within block_seconds
                        self._pending = item[1]
                    body = self._protect(consumer, self._pending)
                    self._pending = None
                    backoff = self.settings.backoff_initial
                except (redis.ConnectionError, redis.TimeoutError) as error:
                    if down_since is None:
                        down_since = time.monotonic()
                        log.warning("%s: Redis unavailable (%s); retrying with backoff", self.name, error)
                    else:
                        log.info("%s: Redis still unavailable (%s); next try in %.0f s", self.name, error, backoff)
                    self._disconnect()
                    self.stop_event.wait(backoff)
                    backoff = min(backoff * 2, self.settings.backoff_max)
                    continue
                if body is not None:
                    self._process(consumer, body)
        except StopRequested:
            log.warning("%s: stopped at once; the message in hand will be resubmitted by harvest_jobs_run", self.name)
        finally:
            self._give_back_pending()
            self._disconnect()
            log.info("%s: stopped (%d messages processed)", self.name, self.processed)

    def _protect(self, consumer: Any, body: str) -> str | None:
        """Write the persistence key of a popped message (what resubmit_jobs looks for). None: malformed."""
        try:
            key = consumer.persistance_key(body)
        except (ValueError, KeyError, TypeError):
            log.error("%s: malformed message dropped: %r", self.name, body[:200] if isinstance(body, str) else body)
            return None
        consumer.redis.set(key, str(datetime.datetime.now()))
        return body

    def _give_back_pending(self) -> None:
        """A message popped but never protected goes back to the head of its queue."""
        if self._pending is None:
            return
        body, self._pending = self._pending, None
        try:
            client = self._consumer.redis if self._consumer is not None else self.redis_factory()
            client.lpush(self.key, body)
            log.info("%s: message put back on the queue: %s", self.name, body)
        except Exception:  # noqa: BLE001 - nothing else can be done; say which message was lost
            log.error("%s: could not put back the message %s (Redis unavailable): resubmit it by hand",
                      self.name, body)

    def _process(self, consumer: Any, body: str) -> None:
        from ckanext.harvest.queue import FakeMethod

        method = FakeMethod(body)
        try:
            with self.around_message():
                if self.before_message is not None and not self.before_message(consumer, method, body):
                    consumer.basic_ack(body)
                    return
                self.callback(consumer, method, None, body)
        except StopRequested:
            raise
        except (redis.ConnectionError, redis.TimeoutError) as error:
            # The callback's own Redis use failed (its publisher): the persistence key, if still there,
            # lets resubmit_jobs put the message back.
            log.warning("%s: Redis failed while processing %s: %s", self.name, body, error)
        except Exception:  # noqa: BLE001 - one bad message must not end the worker
            log.exception("%s: processing failed for %s", self.name, body)
            self._record_failure(body)
            model.Session.remove()
        finally:
            self.processed += 1

    def _record_failure(self, body: str) -> None:
        """A gather that raised: say so in the job's report (ckanext-harvest only logs it)."""
        if self.key != _safe_routing_key(GATHER):
            return
        try:
            from ckanext.harvest.model import HarvestGatherError, HarvestJob

            job = HarvestJob.get(json.loads(body)["harvest_job_id"])
            if job is not None:
                HarvestGatherError(message=gettext("The gather stage failed unexpectedly; see the worker's log."),
                                   job=job).save()
        except Exception:  # noqa: BLE001
            log.exception("could not record the gather failure of %s", body)
            model.Session.remove()


def _safe_routing_key(kind: str) -> str | None:
    try:
        return routing_key(kind)
    except Exception:  # noqa: BLE001 - outside CKAN (tests of the bare loop)
        return None


class ResilientRedisConsumer(RedisConsumer):
    """ckanext-harvest's RedisConsumer (persistence keys, purge) with an acknowledgement that survives
    a connection blip: an ack lost would make resubmit_jobs process the message a second time."""

    def __init__(self, client: redis.Redis, key: str, worker: QueueWorker) -> None:
        super().__init__(client, key)
        self._worker = worker

    def consume(self, queue: Any = None) -> Iterator[Any]:  # pragma: no cover - QueueWorker.run is the loop
        raise NotImplementedError("use QueueWorker.run")

    def basic_ack(self, message: str) -> None:
        for attempt in range(3):
            try:
                super().basic_ack(message)
                return
            except (redis.ConnectionError, redis.TimeoutError) as error:
                log.warning("ack of %s failed (%s), attempt %d", message, error, attempt + 1)
                time.sleep(min(2 ** attempt, 5))


# --------------------------------------------------------------------------------------------------
# The two workers as CKAN runs them

def skip_finished_job(_consumer: Any, _method: Any, body: str) -> bool:
    """False for the gather of a job already Finished (closed as stale, aborted): gather_callback would
    gather it anyway, and fetch_callback would then put every object of it in error."""
    from ckanext.harvest.model import HarvestJob

    try:
        job_id = json.loads(body)["harvest_job_id"]
    except (ValueError, KeyError, TypeError):
        return True  # gather_callback logs and acks malformed messages itself
    job = HarvestJob.get(job_id)
    if job is not None and job.status == "Finished":
        log.info("gather of job %s skipped: the job is already finished", job_id)
        model.Session.remove()
        return False
    return True


class GatherWorker(QueueWorker):
    """Runs ckanext-harvest's gather_callback under a heartbeat for the job."""

    def _process(self, consumer: Any, body: str) -> None:
        try:
            job_id = json.loads(body)["harvest_job_id"]
        except (ValueError, KeyError, TypeError):
            job_id = None
        if job_id is None:
            return super()._process(consumer, body)
        with job_heartbeat(job_id, consumer.redis):
            super()._process(consumer, body)


def make_worker(kind: str, settings: WorkerSettings | None = None,
                app_context: Callable[[], contextlib.AbstractContextManager[Any]] | None = None) -> QueueWorker:
    """The gather or fetch worker on the configured queues: ckanext-harvest's gather callback, and the
    fetch callback of stages.py (ckanext-harvest's, writing each object three times instead of six)."""
    from ckanext.harvest.queue import gather_callback

    settings = settings or WorkerSettings()
    key = routing_key(kind)

    def factory() -> redis.Redis:
        return harvest_redis(settings.socket_timeout, settings.health_check_interval)

    if kind == GATHER:
        return GatherWorker(key, gather_callback, redis_factory=factory, settings=settings,
                            name="gather-worker", around_message=app_context,
                            before_message=skip_finished_job)
    return QueueWorker(key, fetch_callback, redis_factory=factory, settings=settings,
                       name="fetch-worker", around_message=app_context)


# --------------------------------------------------------------------------------------------------
# The periodic runner

def site_user_context() -> dict[str, Any]:
    user = tk.get_action("get_site_user")({"model": model, "ignore_auth": True}, {})
    return {"model": model, "session": model.Session, "user": user["name"]}


# Sent at each round of the periodic runner, after harvest_jobs_run: the rooms above the harvest (the
# schedule of the quality's link re-checks and recompute) run their due work there through a subscription
# (plugin.py), so that one process and one command run all the portal's periodic work while this room knows
# nothing of what that work is.
periodic_round = tk.signals.ckanext.signal("communes_periodic_round")


def run_periodic(every: float, stop_event: threading.Event | None = None,
                 app_context: Callable[[], contextlib.AbstractContextManager[Any]] | None = None,
                 once: bool = False) -> None:
    """Call harvest_jobs_run (our chained one closes stale jobs first) every ``every`` seconds, then send
    ``periodic_round``; a failure of either (database or Redis down, a subscriber's error) is logged and
    retried at the next round."""
    stop_event = stop_event or threading.Event()
    around = app_context or contextlib.nullcontext
    while not stop_event.is_set():
        started = time.monotonic()
        try:
            with around():
                tk.get_action("harvest_jobs_run")(site_user_context(), {})
        except Exception:  # noqa: BLE001 - the runner must keep running
            log.exception("harvest_jobs_run failed; next try in %.0f s", every)
        finally:
            model.Session.remove()
        try:
            with around():
                periodic_round.send("run-periodic")
        except Exception:  # noqa: BLE001 - the runner must keep running
            log.exception("periodic work failed; next try in %.0f s", every)
        finally:
            model.Session.remove()
        if once:
            return
        stop_event.wait(max(0.0, every - (time.monotonic() - started)))


def install_stop_signals(stop_event: threading.Event) -> None:
    def handler(signum: int, _frame: Any) -> None:
        log.info("signal %s received, stopping", signum)
        stop_event.set()
    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)
