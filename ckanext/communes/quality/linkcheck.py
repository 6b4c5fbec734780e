"""Link checking: is each resource URL reachable? In the background, spread over time, re-run on a schedule.

One check of one URL (:func:`check_url`):

* HEAD first; a ranged GET (``Range: bytes=0-0``, streamed, the body never read) when the server refuses
  HEAD (403, 405, 501) or drops the connection on it: many servers and CDNs answer HEAD badly;
* through the harvest's guarded client (``net/fetch.py``): http(s) only, every hop's addresses
  checked before connecting and again at connect time (private addresses refused unless the portal allows
  them), redirects followed by hand and capped, a per-read timeout and a wall-clock budget;
* a link is *reachable* (``ok``) when the last hop answers 2xx. Its size (Content-Length, or the total of
  a 206's Content-Range) is recorded; a file larger than the harvest's ``max_response_bytes`` is still
  reachable (the link works, a browser downloads it): the page says it is large, the score does not count
  it as broken.

The result is stored per resource in ``communes_link_check`` (alembic migration a1c0ffee0002) with a
stable reason *code* in ``error`` (``http_status``, ``timeout``, ``dns:host.example``...), turned
into a French sentence when read (:func:`message_for`): what is stored does not depend on the locale of the
worker that checked it.

Jobs run on CKAN's queue (``tk.enqueue_job``, ``ckan jobs worker``): a page view or a package_update never
waits for a check. After a save, the dataset's quality job (``background.py``) checks its new or changed
links (:func:`check_changed_now`); the CLI and the schedule queue :func:`check_dataset_job`. Within a job the resources are checked by a small thread pool; each host is limited in
two ways, so that a commune's server never sees a burst from us: at most ``per_host_concurrency`` requests
in flight from one process, and request starts at least ``per_host_interval`` seconds apart across all
workers (slots reserved in Redis). Each result sets ``next_check_at``: ``recheck_days`` later for a working
link, sooner for a broken one (doubling from ``retry_hours`` with each consecutive failure, capped at
``recheck_days``) so that a fixed link is seen soon without hammering a dead host.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import ckan.plugins.toolkit as tk
import click
import requests
from ckan import model
from sqlalchemy import BigInteger, Column, DateTime, Integer, UnicodeText

from ckanext.communes.net import fetch as guarded

log = logging.getLogger(__name__)

OPTION_PREFIX = "ckanext.communes.linkcheck."
DEFAULTS: dict[str, Any] = {
    "timeout": 10,  # seconds, per request (connect, each read)
    "recheck_days": 7,
    "retry_hours": 6,
    "per_host_concurrency": 2,
    "per_host_interval": 0.5,  # seconds between two request starts on one host
    "threads": 8,  # checks in flight per job
}
# Statuses after which HEAD is retried as a ranged GET: the server does not do HEAD, not "the file is gone".
HEAD_REFUSED = frozenset({403, 405, 501})
# FetchError reasons of a HEAD after which a GET may still work (a server that drops HEAD connections).
HEAD_RETRYABLE_REASONS = frozenset({"connection"})
REDIS_KEY = "communes:linkcheck:host:{host}"


# --------------------------------------------------------------------------------------------- model


class LinkCheck(tk.BaseModel):
    __tablename__ = "communes_link_check"

    resource_id = Column(UnicodeText, primary_key=True)  # resource.id (no foreign key: see the migration)
    package_id = Column(UnicodeText, nullable=False, index=True)
    url = Column(UnicodeText, nullable=False)
    status = Column(Integer, nullable=True)
    final_url = Column(UnicodeText, nullable=True)
    media_type = Column(UnicodeText, nullable=True)
    size = Column(BigInteger, nullable=True)
    error = Column(UnicodeText, nullable=True)  # reason code (see message_for), None when reachable
    checked_at = Column(DateTime, nullable=True)
    failing_since = Column(DateTime, nullable=True)
    consecutive_failures = Column(Integer, nullable=False, default=0)
    next_check_at = Column(DateTime, nullable=True, index=True)


@dataclass
class LinkResult:
    """What the other parts (score, pages) read. ``ok`` None: never checked (or the URL changed since)."""

    ok: bool | None
    status: int | None = None
    final_url: str | None = None
    media_type: str | None = None
    size: int | None = None
    error: str | None = None  # French sentence
    reason: str | None = None  # stable code: http_status, timeout, private_address, ...
    checked_at: dt.datetime | None = None
    failing_since: dt.datetime | None = None
    consecutive_failures: int = 0
    too_large: bool = False  # reachable, but over the harvest's max_response_bytes


@dataclass
class Outcome:
    """One check of one URL."""

    ok: bool
    status: int | None = None
    final_url: str | None = None
    media_type: str | None = None
    size: int | None = None
    error: str | None = None  # reason code, "code:detail"
    method: str = "HEAD"


# --------------------------------------------------------------------------------------------- options


def option(name: str) -> Any:
    value = tk.config.get(OPTION_PREFIX + name)
    default = DEFAULTS[name]
    if value in (None, ""):
        return default
    return float(value) if isinstance(default, float) else tk.asint(value)


def limits() -> guarded.FetchLimits:
    """The harvest's guard (private addresses, redirects) with the link checker's shorter timeout: a
    link check only needs the headers."""
    base = guarded.limits_from_config()
    timeout = float(option("timeout"))
    return guarded.FetchLimits(
        timeout=timeout, max_bytes=base.max_bytes, max_redirects=base.max_redirects,
        allow_private=base.allow_private, allowed_networks=base.allowed_networks, max_seconds=timeout * 2,
    )


def _now() -> dt.datetime:
    return dt.datetime.utcnow()


# --------------------------------------------------------------------------------------------- one URL


def check_url(url: str, limits_: guarded.FetchLimits | None = None,
              session: requests.Session | None = None) -> Outcome:
    """HEAD, then a ranged GET if HEAD is refused. Never raises for a network problem."""
    limits_ = limits_ or limits()
    own = session is None
    session = session or guarded.make_session()
    try:
        try:
            outcome = _request(url, "HEAD", limits_, session)
            if outcome.ok or outcome.status not in HEAD_REFUSED:
                return outcome
        except guarded.FetchError as e:
            if e.reason not in HEAD_RETRYABLE_REASONS:
                return _failed(e)
        try:
            return _request(url, "GET", limits_, session)
        except guarded.FetchError as e:
            return _failed(e)
    finally:
        if own:
            session.close()


def _failed(error: guarded.FetchError) -> Outcome:
    # A private address is neither stored nor shown: a commune editor could map the internal network by
    # typing host names as links (the guard's log names it for the operators).
    detail = ""
    if error.reason == "dns":
        detail = urlsplit(error.hop_url).hostname or ""
    elif error.reason == "too_many_redirects":
        detail = ""
    code = f"{error.reason}:{detail}" if detail else error.reason
    return Outcome(ok=False, status=error.status, error=code)


def _request(url: str, method: str, limits_: guarded.FetchLimits, session: requests.Session) -> Outcome:
    """One method through the harvest's guarded client, redirects followed hop by hop; the body never read
    (closing drops the connection: a ranged GET the server ignored may be sending the whole file)."""
    headers = {"User-Agent": guarded.user_agent().replace("harvester", "link checker")}
    if method == "GET":
        headers["Range"] = "bytes=0-0"
    with guarded.open_guarded(url, limits_, method=method, headers=headers, session=session) as opened:
        status = opened.status
        media_type = (opened.response.headers.get("Content-Type") or "").split(";")[0].strip().lower() or None
        ok = 200 <= status < 300
        return Outcome(
            ok=ok, status=status, final_url=opened.url, media_type=media_type,
            size=_size(opened.response) if ok else None, error=None if ok else "http_status", method=method,
        )


def _size(response: requests.Response) -> int | None:
    content_range = response.headers.get("Content-Range", "")
    if response.status_code == 206 and "/" in content_range:
        total = content_range.rsplit("/", 1)[1].strip()
        return int(total) if total.isdigit() else None
    length = response.headers.get("Content-Length", "").strip()
    return int(length) if length.isdigit() else None


# --------------------------------------------------------------------------------------------- messages


def message_for(code: str | None, status: int | None = None) -> str | None:
    """The French sentence (through the catalogue) of a stored reason code."""
    if not code:
        return None
    reason, _, detail = code.partition(":")
    if reason == "http_status":
        return tk._("The server answered HTTP {status}.").format(status=status if status else "?")
    if reason == "timeout":
        return tk._("The server did not answer in time.")
    if reason == "too_many_redirects":
        return tk._("Too many redirects (a redirect loop?).")
    if reason == "private_address":  # a detail stored by an older version (the address) is not shown
        return tk._("The link leads to an address that is not public: not checked.")
    if reason == "dns":
        return tk._("The host name {host} cannot be resolved.").format(host=detail or "?")
    if reason == "scheme":
        return tk._("Not a valid web address (http or https only).")
    if reason == "connection":
        return tk._("The connection to the server failed.")
    if reason == "job_timeout":
        return tk._("The check ran out of time.")
    return tk._("The link could not be checked ({reason}).").format(reason=reason)


# --------------------------------------------------------------------------------------------- rate limit


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
        self.concurrency = max(1, int(concurrency if concurrency is not None else option("per_host_concurrency")))
        self.interval = max(0.0, float(interval if interval is not None else option("per_host_interval")))
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


def _interleaved(urls: Iterable[str]) -> list[str]:
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


def check_urls(urls: Iterable[str], limiter: HostLimiter | None = None, threads: int | None = None,
               limits_: guarded.FetchLimits | None = None) -> dict[str, Outcome]:
    """Check many URLs concurrently within the per-host limit. Each URL once."""
    unique = _interleaved(dict.fromkeys(urls))
    limiter = limiter or HostLimiter()
    limits_ = limits_ or limits()

    def one(url: str) -> Outcome:
        with limiter.slot(url):
            return check_url(url, limits_)

    workers = max(1, min(int(threads or option("threads")), len(unique) or 1))
    if workers == 1:
        return {url: one(url) for url in unique}
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="linkcheck") as pool:
        return dict(zip(unique, pool.map(one, unique), strict=True))


# --------------------------------------------------------------------------------------------- storage


def _checkable(resource: dict[str, Any]) -> bool:
    """Uploads are served by the portal itself: not a remote link to check."""
    url = (resource.get("url") or "").strip()
    return bool(url) and resource.get("url_type") != "upload"


def next_check_after(row: LinkCheck, now: dt.datetime) -> dt.datetime:
    recheck = dt.timedelta(days=option("recheck_days"))
    if not row.error:
        return now + recheck
    backoff = dt.timedelta(hours=option("retry_hours")) * (2 ** max(0, (row.consecutive_failures or 1) - 1))
    return now + min(backoff, recheck)


def store(package_id: str, resource_id: str, url: str, outcome: Outcome, now: dt.datetime | None = None) -> bool:
    """Save one result; True when what the score reads changed (first check, URL changed, ok flipped)."""
    now = now or _now()
    row = model.Session.get(LinkCheck, resource_id)
    changed = row is None or row.url != url or (row.error is None) != outcome.ok or row.checked_at is None
    if row is None:
        row = LinkCheck(resource_id=resource_id, package_id=package_id, url=url, consecutive_failures=0)
        model.Session.add(row)
    elif row.url != url:  # another link: its history starts again
        row.url, row.failing_since, row.consecutive_failures = url, None, 0
    row.package_id = package_id
    row.status, row.final_url, row.media_type, row.size = (
        outcome.status, outcome.final_url, outcome.media_type, outcome.size)
    row.checked_at = now
    if outcome.ok:
        row.error, row.failing_since, row.consecutive_failures = None, None, 0
    else:
        row.error = outcome.error or "unknown"
        row.failing_since = row.failing_since or now
        row.consecutive_failures = (row.consecutive_failures or 0) + 1
    row.next_check_at = next_check_after(row, now)
    return changed


def _resources(package_id: str) -> list[dict[str, Any]]:
    try:
        package = tk.get_action("package_show")({"ignore_auth": True}, {"id": package_id})
    except tk.ObjectNotFound:
        return []
    if package.get("state") == "deleted":
        return []
    return package.get("resources") or []


def check_dataset_now(package_id: str, resource_ids: list[str] | None = None) -> None:
    """Check the dataset's resource links (all, or those listed) now, store the results, drop the rows of
    resources that are gone, and refresh the quality score when a result changed."""
    _check(package_id, _resources(package_id), resource_ids)


def check_changed_now(package_id: str) -> int:
    """The dataset's quality job (background.py), after a save: check the links that are new or changed
    since their last check (the others keep their schedule), drop the rows of removed links. Returns how
    many links were checked."""
    resources = _resources(package_id)
    known = dict(model.Session.query(LinkCheck.resource_id, LinkCheck.url)
                 .filter(LinkCheck.package_id == package_id).all())
    checkable = [r for r in resources if _checkable(r)]
    changed = [r["id"] for r in checkable if known.get(r["id"]) != r["url"].strip()]
    removed = set(known) - {r["id"] for r in checkable}
    if not changed and not removed:
        return 0
    _check(package_id, resources, changed)
    return len(changed)


def _check(package_id: str, resources: list[dict[str, Any]], resource_ids: list[str] | None) -> None:
    current = {r["id"] for r in resources}
    wanted = [r for r in resources if _checkable(r) and (resource_ids is None or r["id"] in resource_ids)]
    outcomes = check_urls([r["url"].strip() for r in wanted])
    changed = False
    now = _now()
    for resource in wanted:
        url = resource["url"].strip()
        changed |= store(package_id, resource["id"], url, outcomes[url], now)
    stale = model.Session.query(LinkCheck).filter(LinkCheck.package_id == package_id)
    for row in stale:
        if row.resource_id not in current or not any(r["id"] == row.resource_id and _checkable(r)
                                                      for r in resources):
            model.Session.delete(row)
            changed = True
    model.Session.commit()
    if changed:
        _refresh_score(package_id)


def _refresh_score(package_id: str) -> None:
    try:
        from ckanext.communes.quality import score
    except ImportError:  # the score part is not there yet
        return
    try:
        score.refresh(package_id)
    except Exception:  # noqa: BLE001 - a stored link check stays valid if the reindex fails
        log.exception("Quality score refresh failed for dataset %s", package_id)


def check_dataset_job(package_id: str, resource_ids: list[str] | None = None) -> None:
    """The background job (``ckan jobs worker``)."""
    check_dataset_now(package_id, resource_ids)


def enqueue_dataset(package_id: str, resource_ids: list[str] | None = None) -> int:
    """Schedule a check of the dataset's links (all, or those listed) on CKAN's queue; how many links."""
    resources = [r for r in _resources(package_id) if _checkable(r)
                 and (resource_ids is None or r["id"] in resource_ids)]
    # Nothing to check, but rows of removed links may be left: the job cleans them.
    if not resources and resource_ids is None and not (
            model.Session.query(LinkCheck.resource_id).filter(LinkCheck.package_id == package_id).first()):
        return 0
    ids = None if resource_ids is None else [r["id"] for r in resources]
    if ids == []:
        return 0
    tk.enqueue_job(check_dataset_job, [package_id, ids], title=f"communes: link check of dataset {package_id}")
    return len(resources)


# --------------------------------------------------------------------------------------------- reading


def _result(row: LinkCheck | None, url: str | None) -> LinkResult:
    if row is None or (url is not None and row.url != url) or row.checked_at is None:
        return LinkResult(ok=None)
    ok = row.error is None
    max_bytes = guarded.limits_from_config().max_bytes
    return LinkResult(
        ok=ok, status=row.status, final_url=row.final_url, media_type=row.media_type, size=row.size,
        error=message_for(row.error, row.status), reason=(row.error or "").partition(":")[0] or None,
        checked_at=row.checked_at, failing_since=row.failing_since,
        consecutive_failures=row.consecutive_failures or 0,
        too_large=bool(ok and row.size is not None and row.size > max_bytes),
    )


def results_for(package_id: str) -> dict[str, LinkResult]:
    """resource id -> result, for every active resource of the dataset with a remote link (ok None when
    not checked yet, or checked under another URL)."""
    rows = {row.resource_id: row for row in
            model.Session.query(LinkCheck).filter(LinkCheck.package_id == package_id)}
    resources = (model.Session.query(model.Resource.id, model.Resource.url, model.Resource.url_type)
                 .filter(model.Resource.package_id == package_id, model.Resource.state == "active").all())
    return {
        rid: _result(rows.get(rid), (url or "").strip())
        for rid, url, url_type in resources
        if _checkable({"url": url, "url_type": url_type})
    }


def result_for_resource(resource_id: str, url: str | None = None) -> LinkResult:
    return _result(model.Session.get(LinkCheck, resource_id), url.strip() if url else None)


# --------------------------------------------------------------------------------------------- template helper


def link_status(resource: dict[str, Any]) -> dict[str, Any] | None:
    """Template helper ``communes_link_status``: what the resource page shows, None for an upload."""
    if not resource or not _checkable(resource):
        return None
    result = result_for_resource(resource["id"], resource.get("url"))
    return {
        "ok": result.ok, "status": result.status, "message": result.error, "checked_at": result.checked_at,
        "failing_since": result.failing_since, "consecutive_failures": result.consecutive_failures,
        "size": result.size, "media_type": result.media_type, "too_large": result.too_large,
        "final_url": result.final_url,
    }


def get_helpers() -> dict[str, Any]:
    return {"communes_link_status": link_status}


# --------------------------------------------------------------------------------------------- schedule & CLI


def _dataset_ids(commune: str | None) -> list[str]:
    query = model.Session.query(model.Package.id).filter(model.Package.state == "active",
                                                          model.Package.type == "dataset")
    if commune:
        from ckanext.communes.communes.programme import commune_group_for

        group = commune_group_for(commune)
        if group is None:
            raise click.BadParameter(f"no commune or organisation {commune!r}", param_hint="--commune")
        query = query.filter(model.Package.owner_org == group.id)
    return [row[0] for row in query.order_by(model.Package.name)]


def due_dataset_ids(now: dt.datetime | None = None) -> list[str]:
    """Datasets with a link whose next check is due, or never checked."""
    now = now or _now()
    due = {row[0] for row in model.Session.query(LinkCheck.package_id).filter(LinkCheck.next_check_at <= now)}
    checked = {row[0] for row in model.Session.query(LinkCheck.resource_id)}
    never = (model.Session.query(model.Resource.package_id, model.Resource.id, model.Resource.url_type)
             .join(model.Package, model.Package.id == model.Resource.package_id)
             .filter(model.Resource.state == "active", model.Package.state == "active",
                     model.Resource.url != ""))
    due |= {pid for pid, rid, url_type in never if rid not in checked and url_type != "upload"}
    return sorted(due)


@click.group(short_help="Link checks of the resources.", invoke_without_command=True)
@click.option("--commune", help="INSEE code or organisation name: only this commune's datasets.")
@click.option("--sync", is_flag=True, help="Check now in this process instead of enqueueing jobs.")
@click.option("--due", is_flag=True, help="Only the datasets whose links are due for a check (for cron).")
@click.pass_context
def linkcheck(ctx: click.Context, commune: str | None, sync: bool, due: bool) -> None:
    """Check the resource links of every dataset (or one commune's): jobs for `ckan jobs worker`, or --sync."""
    if ctx.invoked_subcommand is not None:
        return
    ids = _dataset_ids(commune)
    if due:
        wanted = set(due_dataset_ids())
        ids = [i for i in ids if i in wanted]
    links = 0
    for package_id in ids:
        if sync:
            check_dataset_now(package_id)
            links += len(results_for(package_id))
        else:
            links += enqueue_dataset(package_id)
    if sync:
        broken = sum(1 for pid in ids for r in results_for(pid).values() if r.ok is False)
        click.echo(f"{len(ids)} dataset(s), {links} link(s) checked, {broken} broken.")
    else:
        click.echo(f"{len(ids)} dataset(s), {links} link(s) enqueued for `ckan jobs worker`.")
