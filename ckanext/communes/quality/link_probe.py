"""One check of one URL, and of many at once within the per-host limits (host_limiter.py).

:func:`check_url`:

* HEAD first; a ranged GET (``Range: bytes=0-0``, streamed, the body never read) when the server refuses
  HEAD (403, 405, 501) or drops the connection on it: many servers and CDNs answer HEAD badly;
* through the guarded client (``net/fetch.py``): http(s) only, every hop's addresses checked before
  connecting and again at connect time (private addresses refused unless the portal allows them),
  redirects followed by hand and capped, a per-read timeout and a wall-clock budget;
* a link is *reachable* (``ok``) when the last hop answers 2xx. Its size (Content-Length, or the total of
  a 206's Content-Range) is recorded; a file larger than the harvest's ``max_response_bytes`` is still
  reachable (the link works, a browser downloads it): the page says it is large, the score does not count
  it as broken.

A failure is a stable reason *code* (``http_status``, ``timeout``, ``dns:host.example``...), turned into
a French sentence when read (``evidence.message_for``).
"""

from __future__ import annotations

from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from urllib.parse import urlsplit

import requests

from ckanext.communes.net import fetch as guarded
from ckanext.communes.quality import options
from ckanext.communes.quality.host_limiter import HostLimiter, interleaved

# Statuses after which HEAD is retried as a ranged GET: the server does not do HEAD, not "the file is gone".
HEAD_REFUSED = frozenset({403, 405, 501})
# FetchError reasons of a HEAD after which a GET may still work (a server that drops HEAD connections).
HEAD_RETRYABLE_REASONS = frozenset({"connection"})


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


def check_url(url: str, limits_: guarded.FetchLimits | None = None,
              session: requests.Session | None = None) -> Outcome:
    """HEAD, then a ranged GET if HEAD is refused. Never raises for a network problem."""
    limits_ = limits_ or options.linkcheck_limits()
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
    code = f"{error.reason}:{detail}" if detail else error.reason
    return Outcome(ok=False, status=error.status, error=code)


def _request(url: str, method: str, limits_: guarded.FetchLimits, session: requests.Session) -> Outcome:
    """One method through the guarded client, redirects followed hop by hop; the body never read
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


def check_urls(urls: Iterable[str], limiter: HostLimiter | None = None, threads: int | None = None,
               limits_: guarded.FetchLimits | None = None) -> dict[str, Outcome]:
    """Check many URLs concurrently within the per-host limit. Each URL once."""
    unique = interleaved(dict.fromkeys(urls))
    limiter = limiter or HostLimiter()
    limits_ = limits_ or options.linkcheck_limits()

    def one(url: str) -> Outcome:
        with limiter.slot(url):
            return check_url(url, limits_)

    workers = max(1, min(int(threads or options.linkcheck_option("threads")), len(unique) or 1))
    if workers == 1:
        return {url: one(url) for url in unique}
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="linkcheck") as pool:
        return dict(zip(unique, pool.map(one, unique), strict=True))
