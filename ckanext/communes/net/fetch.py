"""The guarded HTTP client every harvest source type uses, and the safe parsers of what it fetches.

A harvest source URL is typed by an operator and every page it links to is chosen by a remote server:
both are untrusted. So every fetch

* speaks http or https only;
* refuses any address that is private, loopback, link-local, multicast, reserved, unspecified or otherwise
  not global (SSRF: the portal's own network, the cloud metadata service at 169.254.169.254), for the
  first URL and for every redirect target, unless the portal allows private addresses (tests, intranet);
* follows redirects by hand, at most ``max_redirects``;
* is bounded in time three ways: the per-read timeout of requests, a wall-clock budget for the whole fetch
  (a server trickling a byte a second never trips a per-read timeout), and the harvest job's deadline;
* is bounded in size: the body is streamed and the fetch stops at ``max_bytes + 1``;
* turns every failure into a :class:`FetchError` whose French message names the URL, for the job report.

The address guard works at two levels. ``fetch`` resolves each hop's host and checks every address before
anything connects, which gives a clear error. Then the connection itself (our urllib3 connection class,
mounted on the session by :class:`GuardedAdapter`) resolves the host again, checks every address again and
connects only to an address it has just checked: what we connect to is always what we checked, so a DNS
answer that changes between the two lookups (DNS rebinding) cannot reach a private address.

XML is parsed by lxml without entity expansion, DTD loading or network access, and a document that declares
entities or an external DTD is refused outright (billion laughs, XXE); ``check_rdf_safe`` applies the same
rule to RDF/XML for a caller that hands it to rdflib itself. (The DCAT harvester reads RDF through
``net/safe_rdf.py``, whose parsers refuse the same documents by construction and fetch nothing.)

A refused private address is not named in the error's message: commune staff read these messages, and
typing host names must not map the internal network. It is in ``FetchError.address`` and in the log.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import ipaddress
import json
import logging
import re
import socket
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin, urlsplit

import ckan.plugins.toolkit as tk
import requests
import urllib3
from lxml import etree
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ConnectTimeoutError, NameResolutionError, NewConnectionError
from urllib3.util import connection as urllib3_connection

log = logging.getLogger(__name__)

# Lifts the address guard for every fetch of this client (harvests, link checks, SCDL downloads): tests,
# an intranet. Its first name, ckanext.communes.harvest.allow_private_addresses, is the declaration's
# legacy_key: CKAN reads it, with a deprecation warning, from a configuration that still says so.
ALLOW_PRIVATE_OPTION = "ckanext.communes.fetch.allow_private_addresses"
CHUNK_SIZE = 64 * 1024
# The wall-clock budget of one fetch (every hop, headers and body) is this many times the per-read timeout:
# generous for a slow but honest server, finite for one that trickles.
WALL_CLOCK_FACTOR = 4
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
# Headers that must not follow a redirect to another origin (credentials given for the source).
CREDENTIAL_HEADERS = frozenset({"authorization", "cookie", "proxy-authorization"})


# --------------------------------------------------------------------------------------------- errors


class FetchError(Exception):
    """A fetch or a parse that failed. ``reason`` is a short machine code, ``message`` a French sentence
    naming the URL, for the harvest report."""

    def __init__(self, url: str, reason: str, message: str, status: int | None = None,
                 address: str | None = None, hop_url: str | None = None) -> None:
        super().__init__(message)
        self.url = url
        self.hop_url = hop_url or url  # the hop that failed, after redirects
        self.reason = reason
        self.message = message
        self.status = status
        # The private or reserved address refused ("private_address"): for logs and code, never shown (the
        # message does not name it).
        self.address = address

    def __repr__(self) -> str:
        return f"FetchError(url={self.url!r}, reason={self.reason!r}, status={self.status!r})"


# --------------------------------------------------------------------------------------------- limits


@dataclass(frozen=True)
class FetchLimits:
    timeout: float = 30.0  # per request: connect, and each read
    max_bytes: int = 50 * 1024 * 1024
    max_redirects: int = 5
    allow_private: bool = False
    deadline: float | None = None  # time.monotonic() after which any fetch raises FetchError("job_timeout")
    # Private networks reachable even when allow_private is off, e.g. ("192.0.2.10/32",) for one intranet
    # server; the tests use it to reach their server on 127.0.0.1 and still see 10.0.0.1 refused.
    allowed_networks: tuple[str, ...] = ()
    # Whole fetch (every hop, headers and body); None means WALL_CLOCK_FACTOR × timeout.
    max_seconds: float | None = None

    @property
    def wall_clock(self) -> float:
        return self.max_seconds if self.max_seconds is not None else self.timeout * WALL_CLOCK_FACTOR


def _positive_number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if number > 0 else None


def limits_from_config(
    source_config: Mapping[str, Any] | None = None, *, job_started: float | dt.datetime | None = None
) -> FetchLimits:
    """The limits of the portal's configuration; a source's config may lower (never raise)
    ``request_timeout`` and ``max_response_bytes``.

    ``job_started`` is a ``time.monotonic()`` value, or the job's start as a datetime (ckanext-harvest
    stores naive UTC datetimes); the deadline is that plus ``ckanext.communes.harvest.job_timeout``."""
    config = tk.config
    timeout = float(tk.asint(config.get("ckanext.communes.harvest.request_timeout", 30)))
    max_bytes = tk.asint(config.get("ckanext.communes.harvest.max_response_bytes", 52428800))
    max_redirects = tk.asint(config.get("ckanext.communes.harvest.max_redirects", 5))
    allow_private = tk.asbool(config.get(ALLOW_PRIVATE_OPTION, False))
    job_timeout = tk.asint(config.get("ckanext.communes.harvest.job_timeout", 3600))

    source_config = source_config or {}
    lower_timeout = _positive_number(source_config.get("request_timeout"))
    if lower_timeout is not None:
        timeout = min(timeout, lower_timeout)
    lower_bytes = _positive_number(source_config.get("max_response_bytes"))
    if lower_bytes is not None:
        max_bytes = min(max_bytes, int(lower_bytes))

    deadline: float | None = None
    if isinstance(job_started, dt.datetime):
        started = job_started if job_started.tzinfo else job_started.replace(tzinfo=dt.timezone.utc)
        elapsed = (dt.datetime.now(dt.timezone.utc) - started).total_seconds()
        deadline = time.monotonic() + job_timeout - elapsed
    elif job_started is not None:
        deadline = float(job_started) + job_timeout

    return FetchLimits(
        timeout=timeout, max_bytes=max_bytes, max_redirects=max_redirects, allow_private=allow_private,
        deadline=deadline,
    )


# --------------------------------------------------------------------------------------------- response


@dataclass
class FetchedResponse:
    url: str  # final URL, after redirects
    status: int
    content_type: str  # media type without parameters, lower case ("" if none)
    encoding: str | None  # the declared charset, if any
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)  # names in lower case

    def text(self) -> str:
        """The body decoded with the declared charset, else UTF-8 with replacement (a BOM is dropped)."""
        text: str | None = None
        if self.encoding:
            try:
                text = self.body.decode(self.encoding, errors="replace")
            except LookupError:  # an unknown charset name
                text = None
        if text is None:
            text = self.body.decode("utf-8", errors="replace")
        return text[1:] if text.startswith("\ufeff") else text


def _split_content_type(value: str) -> tuple[str, str | None]:
    media, _, params = value.partition(";")
    charset = None
    for param in params.split(";"):
        name, _, val = param.partition("=")
        if name.strip().lower() == "charset" and val.strip():
            charset = val.strip().strip("\"'") or None
    return media.strip().lower(), charset


# --------------------------------------------------------------------------------------------- address guard


_ALWAYS_BLOCKED_NETS = (
    ipaddress.ip_network("100.64.0.0/10"),  # carrier-grade NAT: not private for ipaddress, not public either
)
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address stands for (mapped, 6to4, NAT64), if any."""
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def address_is_blocked(address: str, allowed_networks: tuple[str, ...] = ()) -> bool:
    """True when the address is private, loopback, link-local, multicast, reserved, unspecified or not
    global (IPv4-mapped and other IPv6 forms of an IPv4 address are judged as that IPv4 address), and not
    in one of ``allowed_networks``."""
    try:
        ip: ipaddress.IPv4Address | ipaddress.IPv6Address = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return True  # not an address we understand: refuse rather than guess
    candidates: list[ipaddress.IPv4Address | ipaddress.IPv6Address] = [ip]
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(ip)
        if ip.ipv4_mapped is not None:
            # ::ffff:a.b.c.d is a.b.c.d on the wire (and ipaddress calls the whole ::ffff:0:0/96 private).
            candidates = [ip.ipv4_mapped]
        elif embedded is not None:
            candidates.append(embedded)
    for net in allowed_networks:
        network = ipaddress.ip_network(net, strict=False)
        if any(c.version == network.version and c in network for c in candidates):
            return False
    for c in candidates:
        if (c.is_private or c.is_loopback or c.is_link_local or c.is_multicast or c.is_reserved
                or c.is_unspecified or not c.is_global):
            return True
        if any(c.version == n.version and c in n for n in _ALWAYS_BLOCKED_NETS):
            return True
    return False


class _BlockedAddress(Exception):
    """Raised by the connection layer: not an OSError, so urllib3 neither wraps nor retries it. Its text
    does not name the address (see _private)."""

    def __init__(self, host: str, address: str) -> None:
        super().__init__(f"{host} does not resolve to a public address")
        self.host = host
        self.address = address


class _ProxyRefused(Exception):
    """A proxy would make the address guard check the proxy instead of the source: refused."""


class _Watch:
    """The state of one fetch, shared with the connection layer through a context variable: the address
    policy, and the sockets in use so that the wall-clock watchdog can cut them.

    Sockets, not connections: http.client detaches the socket from the connection as soon as the headers
    of a response that closes the connection are read (HTTP/1.0, ``Connection: close``)."""

    def __init__(self, allow_private: bool, allowed_networks: tuple[str, ...]) -> None:
        self.allow_private = allow_private
        self.allowed_networks = allowed_networks
        self.expired: str | None = None  # "timeout" or "job_timeout" once the watchdog fired
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()

    def blocks(self, address: str) -> bool:
        return not self.allow_private and address_is_blocked(address, self.allowed_networks)

    def register(self, sock: socket.socket | None) -> None:
        if sock is None:
            return
        with self._lock:
            self._sockets.append(sock)
            expired = self.expired
        if expired:
            _cut(sock)

    def expire(self, reason: str) -> None:
        with self._lock:
            self.expired = reason
            sockets = list(self._sockets)
        for sock in sockets:
            _cut(sock)


def _cut(sock: socket.socket) -> None:
    """Shut the socket down from the watchdog thread: the read blocked in the fetching thread returns at
    once. socket.socket.shutdown, not SSLSocket's, which would also drop the TLS object under the reader."""
    with suppress(OSError):  # already closed, or detached by the TLS wrapper (then its SSLSocket is cut)
        socket.socket.shutdown(sock, socket.SHUT_RDWR)


# Outside fetch() (a guarded session used directly), the strictest policy applies.
_current_watch: contextvars.ContextVar[_Watch | None] = contextvars.ContextVar("communes_fetch_watch", default=None)


def _watch() -> _Watch:
    return _current_watch.get() or _Watch(allow_private=False, allowed_networks=())


class _GuardedConnectionMixin:
    """Resolve, check every address, connect only to a checked address; register with the watchdog."""

    def _new_conn(self) -> socket.socket:
        conn: Any = self
        watch = _watch()
        host, port = conn._dns_host, conn.port
        try:
            infos = socket.getaddrinfo(host, port, urllib3_connection.allowed_gai_family(), socket.SOCK_STREAM)
        except socket.gaierror as e:
            raise NameResolutionError(conn.host, conn, e) from e
        addresses = [info[4][0] for info in infos]
        for address in addresses:
            if watch.blocks(address):
                raise _BlockedAddress(host, address)
        last_error: OSError | None = None
        for address in dict.fromkeys(addresses):  # each checked address once, in resolver order
            try:
                sock = urllib3_connection.create_connection(
                    (address, port), conn.timeout, source_address=conn.source_address,
                    socket_options=conn.socket_options,
                )
            except TimeoutError as e:
                raise ConnectTimeoutError(
                    conn, f"Connection to {host} timed out. (connect timeout={conn.timeout})"
                ) from e
            except OSError as e:
                last_error = e
                continue
            sys.audit("http.client.connect", conn, conn.host, port)
            watch.register(sock)  # cut from the first byte: a trickled response header too
            return sock
        raise NewConnectionError(conn, f"Failed to establish a new connection: {last_error}")

    def getresponse(self, *args: Any, **kwargs: Any) -> Any:
        # The socket reading this response: the TLS socket for https, a kept-alive one for a reused connection.
        _watch().register(getattr(self, "sock", None))
        return super().getresponse(*args, **kwargs)  # type: ignore[misc]


class _GuardedHTTPConnection(_GuardedConnectionMixin, HTTPConnection):
    pass


class _GuardedHTTPSConnection(_GuardedConnectionMixin, HTTPSConnection):
    pass


class _GuardedHTTPConnectionPool(HTTPConnectionPool):
    ConnectionCls = _GuardedHTTPConnection


class _GuardedHTTPSConnectionPool(HTTPSConnectionPool):
    ConnectionCls = _GuardedHTTPSConnection


class GuardedAdapter(HTTPAdapter):
    """A requests adapter whose connections pass the address guard. No proxy: through a proxy the guard
    would check the proxy's address, not the source's."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {
            "http": _GuardedHTTPConnectionPool, "https": _GuardedHTTPSConnectionPool,
        }

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        raise _ProxyRefused(proxy)


def user_agent() -> str:
    site_url = (tk.config.get("ckan.site_url") or "").rstrip("/")
    return f"ckanext-communes harvester (+{site_url})"


def make_session() -> requests.Session:
    """A session for several fetches (connection reuse across the pages of one source)."""
    session = requests.Session()
    _guard_session(session)
    return session


def _guard_session(session: requests.Session) -> None:
    # No proxy, .netrc or CA bundle from the environment: the guard must see the real destination.
    session.trust_env = False
    for prefix in ("http://", "https://"):
        if not isinstance(session.adapters.get(prefix), GuardedAdapter):
            session.mount(prefix, GuardedAdapter(max_retries=0))


# --------------------------------------------------------------------------------------------- messages


def _label(first_url: str, current_url: str) -> str:
    if current_url == first_url:
        return first_url
    return tk._("{url} (redirected to {target})").format(url=first_url, target=current_url)


def _seconds(value: float) -> str:
    return f"{value:g}"


class _Fetch:
    """One call of fetch(): the first URL, the hop being fetched, and how to word its errors."""

    def __init__(self, url: str, limits: FetchLimits) -> None:
        self.first_url = url
        self.current_url = url
        self.limits = limits

    def error(self, reason: str, template: str, status: int | None = None, **values: Any) -> FetchError:
        label = _label(self.first_url, self.current_url)
        message = template.format(url=label, status=status, **values)
        return FetchError(self.first_url, reason, message, status=status, hop_url=self.current_url)

    def timeout(self) -> FetchError:
        return self.error("timeout", tk._("{url}: timed out ({seconds} s)"), seconds=_seconds(self.limits.timeout))

    def wall_clock(self) -> FetchError:
        return self.error(
            "timeout", tk._("{url}: the response took too long (more than {seconds} s in all)"),
            seconds=_seconds(self.limits.wall_clock),
        )

    def job_timeout(self) -> FetchError:
        return self.error("job_timeout", tk._("{url}: the harvest job ran out of time"))

    def expired(self, reason: str) -> FetchError:
        return self.job_timeout() if reason == "job_timeout" else self.wall_clock()

    def timed_out(self, watch: _Watch, started: float) -> FetchError:
        """A read timed out: the per-read timeout, or (as the read timeout is lowered to what is left) the
        job deadline or the fetch's wall-clock budget, whichever ran out."""
        if watch.expired:
            return self.expired(watch.expired)
        now = time.monotonic() + 0.05  # the timer and the socket timeout race to the same instant
        if self.limits.deadline is not None and now >= self.limits.deadline:
            return self.job_timeout()
        if now >= started + self.limits.wall_clock:
            return self.wall_clock()
        return self.timeout()


# --------------------------------------------------------------------------------------------- fetch


def _check_url(state: _Fetch, url: str, watch: _Watch) -> None:
    """Scheme and addresses of one hop, before anything connects."""
    try:
        parts = urlsplit(url)
        host = parts.hostname
        port = parts.port
    except ValueError as e:
        raise state.error("scheme", tk._("{url}: not a valid web address ({detail})"), detail=str(e)) from e
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise state.error(
            "scheme", tk._("{url}: only http and https addresses can be harvested (scheme “{scheme}” refused)"),
            scheme=scheme or "?",
        )
    if not host:
        raise state.error("scheme", tk._("{url}: not a valid web address (no host name)"))
    try:
        infos = socket.getaddrinfo(host, port or (443 if scheme == "https" else 80), type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as e:
        raise state.error("dns", tk._("{url}: the host name {host} cannot be resolved"), host=host) from e
    for info in infos:
        address = str(info[4][0])
        if watch.blocks(address):
            raise _private(state, host, address)


def _private(state: _Fetch, host: str, address: str) -> FetchError:
    """The refusal of a private or reserved address. The message, which commune staff read (harvest
    reports of their sources, link checks and SCDL results of their resources), says that the address is
    not public and never which one it is: otherwise typing host names would map the internal network.
    The operators find the address in the log, and callers in ``error.address``."""
    log.warning("Refused %s: %s resolves to the private or reserved address %s", state.current_url, host, address)
    error = state.error(
        "private_address", tk._("{url}: {host} is not a public address: harvesting it is not allowed"), host=host,
    )
    error.address = address
    return error


@contextmanager
def _watchdog(watch: _Watch, limits: FetchLimits, started: float) -> Iterator[None]:
    """Cut the connections when the fetch's wall-clock budget or the job deadline runs out."""
    now = time.monotonic()
    budget_end = started + limits.wall_clock
    end, reason = budget_end, "timeout"
    if limits.deadline is not None and limits.deadline < budget_end:
        end, reason = limits.deadline, "job_timeout"
    timer = threading.Timer(max(0.0, end - now), watch.expire, args=(reason,))
    timer.daemon = True
    token = _current_watch.set(watch)
    timer.start()
    try:
        yield
    finally:
        timer.cancel()
        _current_watch.reset(token)


@dataclass
class OpenedResponse:
    """The first answer of a guarded request that is not a redirect, its body not read yet."""

    response: requests.Response
    url: str  # final URL, after redirects
    _state: _Fetch
    _watch: _Watch
    _started: float

    @property
    def status(self) -> int:
        return self.response.status_code

    def error(self, reason: str, template: str, **values: Any) -> FetchError:
        """A FetchError about this answer (its status given), worded like the guard's own."""
        return self._state.error(reason, template, status=self.status, **values)

    def read_body(self) -> bytes:
        """The body, within the size limit and the time budget."""
        return _read_body(self._state, self._watch, self.response, self._started)

    def body_chunks(self) -> Iterator[bytes]:
        """The body streamed (for a file too large to hold in memory), within the size limit and the time
        budget: a FetchError ends the iteration as soon as either is passed."""
        return _body_chunks(self._state, self._watch, self.response, self._started)


@contextmanager
def open_guarded(
    url: str,
    limits: FetchLimits,
    *,
    method: str = "GET",
    headers: dict[str, str] | None = None,
    session: requests.Session | None = None,
) -> Iterator[OpenedResponse]:
    """Send ``method`` to ``url`` within ``limits`` and give the first answer that is not a redirect, its
    body unread (closed when the block ends: a body nobody read is never drained). Raises FetchError.

    Every hop is checked before anything connects (http(s) only, no private or reserved address, the
    check repeated on each connection), redirects are followed by hand, credentials headers are dropped
    when a redirect leaves the origin; the whole block, reading the body included, runs under the time
    budget and the job deadline. A given session gets the guarded adapters mounted (and its environment
    proxies turned off); without one, a fresh session is used and closed. The harvest's fetch() and the
    link checker (quality/link_probe.py) both go through here."""
    state = _Fetch(url, limits)
    started = time.monotonic()
    if limits.deadline is not None and started >= limits.deadline:
        raise state.job_timeout()
    watch = _Watch(limits.allow_private, limits.allowed_networks)
    own_session = session is None
    session = session if session is not None else requests.Session()
    _guard_session(session)
    request_headers = {"User-Agent": user_agent(), **(headers or {})}
    try:
        with _watchdog(watch, limits, started):
            response = _follow_redirects(state, watch, session, method, request_headers, started)
            try:
                yield OpenedResponse(response, state.current_url, state, watch, started)
            finally:
                response.close()
    finally:
        if own_session:
            session.close()


def fetch(
    url: str,
    limits: FetchLimits,
    *,
    headers: dict[str, str] | None = None,
    accept: str | None = None,
    session: requests.Session | None = None,
) -> FetchedResponse:
    """GET ``url`` within ``limits`` (see :func:`open_guarded`); a body, or a FetchError naming the URL."""
    request_headers = dict(headers or {})
    if accept:
        request_headers["Accept"] = accept
    with open_guarded(url, limits, headers=request_headers, session=session) as opened:
        if opened.status >= 300:  # 4xx, 5xx, and a 3xx that is not a usable redirect
            raise opened.error("http_status", tk._("{url}: the server answered HTTP {status}"))
        body = opened.read_body()
        content_type, charset = _split_content_type(opened.response.headers.get("Content-Type", ""))
        return FetchedResponse(
            url=opened.url, status=opened.status, content_type=content_type, encoding=charset, body=body,
            headers={k.lower(): v for k, v in opened.response.headers.items()},
        )


def _remaining(limits: FetchLimits, started: float) -> float:
    """Seconds left for this fetch: the wall-clock budget, the job deadline."""
    now = time.monotonic()
    remaining = started + limits.wall_clock - now
    if limits.deadline is not None:
        remaining = min(remaining, limits.deadline - now)
    return remaining


def _follow_redirects(
    state: _Fetch, watch: _Watch, session: requests.Session, method: str, headers: dict[str, str],
    started: float,
) -> requests.Response:
    """The hops up to the first answer that is not a usable redirect (returned open)."""
    limits = state.limits
    redirects = 0
    url = state.first_url
    while True:
        state.current_url = url
        if limits.deadline is not None and time.monotonic() >= limits.deadline:
            raise state.job_timeout()
        if watch.expired:
            raise state.expired(watch.expired)
        _check_url(state, url, watch)
        per_read = max(0.001, min(limits.timeout, _remaining(limits, started)))
        response = _send(state, watch, session, method, url, headers, per_read, started)
        if response.status_code not in REDIRECT_STATUSES or not response.headers.get("Location"):
            return response
        # Never drain: closing drops the connection of a body we did not read.
        response.close()
        target = urljoin(url, response.headers["Location"])
        redirects += 1
        if redirects > limits.max_redirects:
            raise state.error(
                "too_many_redirects", tk._("{url}: too many redirects (more than {max})"),
                status=response.status_code, max=limits.max_redirects,
            )
        if _origin(target) != _origin(url):
            headers = {k: v for k, v in headers.items() if k.lower() not in CREDENTIAL_HEADERS}
        url = target


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    return parts.scheme.lower(), (parts.hostname or "").lower(), parts.port


def _send(
    state: _Fetch, watch: _Watch, session: requests.Session, method: str, url: str, headers: dict[str, str],
    per_read: float, started: float,
) -> requests.Response:
    try:
        return session.request(
            method, url, headers=headers, stream=True, allow_redirects=False, timeout=(per_read, per_read),
            proxies={"http": None, "https": None, "all": None},  # type: ignore[dict-item]
        )
    except _BlockedAddress as e:
        raise _private(state, e.host, e.address) from e
    except _ProxyRefused as e:
        raise state.error("connection", tk._("{url}: connection failed (a proxy was configured)")) from e
    except requests.Timeout as e:
        raise state.timed_out(watch, started) from e
    except requests.ConnectionError as e:
        if watch.expired:
            raise state.expired(watch.expired) from e
        if isinstance(_root_cause(e), NameResolutionError):
            raise state.error(
                "dns", tk._("{url}: the host name {host} cannot be resolved"), host=urlsplit(url).hostname
            ) from e
        raise state.error("connection", tk._("{url}: connection failed ({detail})"), detail=_detail(e)) from e
    except (requests.RequestException, urllib3.exceptions.HTTPError, OSError) as e:
        if watch.expired:
            raise state.expired(watch.expired) from e
        raise state.error("connection", tk._("{url}: connection failed ({detail})"), detail=_detail(e)) from e


def _read_body(state: _Fetch, watch: _Watch, response: requests.Response, started: float) -> bytes:
    body = bytearray()
    for chunk in _body_chunks(state, watch, response, started):
        body += chunk
    return bytes(body)


def _body_chunks(state: _Fetch, watch: _Watch, response: requests.Response, started: float) -> Iterator[bytes]:
    """The body chunk by chunk, within the size limit (counted as it comes: a body that never ends stops at
    ``max_bytes + 1``) and the time budget; the last chunk only once the whole body passed both."""
    limits = state.limits
    declared = response.headers.get("Content-Length", "").strip()
    if declared.isdigit() and int(declared) > limits.max_bytes:
        raise _too_large(state)
    length = 0
    pending: bytes | None = None
    try:
        for chunk in response.iter_content(chunk_size=CHUNK_SIZE):
            length += len(chunk)
            if length > limits.max_bytes:
                raise _too_large(state)
            if watch.expired:
                break
            if pending is not None:
                yield pending
            pending = chunk
    except FetchError:
        raise
    except requests.Timeout as e:
        raise state.timed_out(watch, started) from e
    except (requests.RequestException, urllib3.exceptions.HTTPError, OSError) as e:
        if watch.expired:
            raise state.expired(watch.expired) from e
        raise state.error("connection", tk._("{url}: connection failed ({detail})"), detail=_detail(e)) from e
    # A cut connection can look like a clean end of a body without Content-Length: check the watchdog.
    if watch.expired:
        raise state.expired(watch.expired)
    if pending is not None:
        yield pending


def _too_large(state: _Fetch) -> FetchError:
    return state.error(
        "too_large", tk._("{url}: the response is larger than the limit ({limit} bytes)"),
        limit=state.limits.max_bytes,
    )


def _causes(error: BaseException) -> Iterator[BaseException]:
    """The chain of wrapped errors: requests wraps urllib3's MaxRetryError in args[0], whose ``reason`` is
    the real cause."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        wrapped = current.args[0] if current.args and isinstance(current.args[0], BaseException) else None
        reason = getattr(current, "reason", None)
        current = (reason if isinstance(reason, BaseException) else None) or wrapped or current.__cause__


def _root_cause(error: BaseException) -> BaseException:
    for cause in _causes(error):
        if isinstance(cause, NameResolutionError):
            return cause
    *_, last = _causes(error)
    return last


def _detail(error: BaseException) -> str:
    text = str(_root_cause(error)) or type(error).__name__
    return text[:200]


# --------------------------------------------------------------------------------------------- parsers


# Lexical fallback when lxml cannot parse the document (rdflib's expat might still accept it). NUL bytes are
# dropped first so that the ASCII keywords are found in UTF-16 and UTF-32 too.
_ENTITY_OR_EXTERNAL_DTD = re.compile(rb"<!ENTITY|<!DOCTYPE[^\[>]*\b(SYSTEM|PUBLIC)\b", re.IGNORECASE)


def _xml_parser() -> etree.XMLParser:
    # A new parser per call: lxml parsers are not thread-safe.
    return etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False, dtd_validation=False,
    )


def _unsafe(url: str) -> FetchError:
    return FetchError(
        url, "unsafe_xml",
        tk._("{url}: the XML document declares entities or an external DTD, refused for safety").format(url=url),
    )


def _declares_entities(tree: etree._ElementTree) -> bool:
    docinfo = tree.docinfo
    if docinfo.system_url or docinfo.public_id:
        return True
    dtd = docinfo.internalDTD
    return dtd is not None and any(True for _ in dtd.iterentities())


def parse_xml(body: bytes, url: str) -> etree._Element:
    """The root of a well-formed XML document without entity declarations or external DTD."""
    try:
        root = etree.fromstring(body, _xml_parser())
    except (etree.XMLSyntaxError, ValueError) as e:
        # libxml2 may stop on the entity declarations themselves (amplification limit): say why.
        if _ENTITY_OR_EXTERNAL_DTD.search(body.replace(b"\x00", b"")):
            raise _unsafe(url) from e
        raise FetchError(
            url, "malformed", tk._("{url}: the document is not well-formed XML ({detail})").format(
                url=url, detail=str(e)[:200]),
        ) from e
    if _declares_entities(root.getroottree()):
        raise _unsafe(url)
    return root


def parse_json(body: bytes, url: str) -> Any:
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError) as e:
        raise FetchError(
            url, "malformed", tk._("{url}: the document is not valid JSON ({detail})").format(
                url=url, detail=str(e)[:200]),
        ) from e


def check_rdf_safe(body: bytes, url: str) -> None:
    """Refuse RDF/XML that declares entities or an external DTD, before rdflib parses it (billion
    laughs, XXE). A body lxml cannot parse is checked lexically, and otherwise left to rdflib's errors."""
    try:
        root = etree.fromstring(body, _xml_parser())
    except (etree.XMLSyntaxError, ValueError):
        if _ENTITY_OR_EXTERNAL_DTD.search(body.replace(b"\x00", b"")):
            raise _unsafe(url) from None
        return
    if _declares_entities(root.getroottree()):
        raise _unsafe(url)
