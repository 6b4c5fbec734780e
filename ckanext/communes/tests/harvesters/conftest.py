"""The harvesting tests' remote sources: a real HTTP server on 127.0.0.1, in a thread of the test process.

One server for the session (random port), routes reset before each test::

    def test_something(source_server, allow_private_addresses):
        source_server.serve_file("/catalog.ttl", "dcat/catalog.ttl")
        source_server.redirect("/old", "/catalog.ttl")
        ... harvest source_server.url("/old") ...
        assert ("GET", "/catalog.ttl", "") in source_server.requests

A path with no route is served from ``fixtures/`` (``/dcat/catalog.ttl`` → ``fixtures/dcat/catalog.ttl``),
its content type guessed from the extension. A route key may carry a query string (``/api?page=2``): a
request matches the route of its exact path and query first (query parameters in any order), then the
route of its path alone. ``handle`` takes a function for anything the other helpers do not cover (paging
by a POST body, for instance).
"""

from __future__ import annotations

import contextlib
import pathlib
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit

import pytest

FIXTURES = pathlib.Path(__file__).resolve().parent / "fixtures"
CONTENT_TYPES = {
    ".ttl": "text/turtle",
    ".rdf": "application/rdf+xml",
    ".xml": "application/xml",
    ".jsonld": "application/ld+json",
    ".json": "application/json",
    ".csv": "text/csv",
    ".html": "text/html",
    ".txt": "text/plain",
}

# handle(): fn(method, path, query, body) -> (status, headers, body)
Handler = Callable[[str, str, str, bytes], "tuple[int, dict[str, str], bytes | str]"]


@dataclass
class Route:
    status: int = 200
    body: bytes = b""
    content_type: str | None = "text/turtle"
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds to sleep before answering
    bytes_per_second: float | None = None  # trickle the body
    infinite: bool = False  # an endless body, no Content-Length
    infinite_chunk: bytes = b"<urn:a> <urn:b> <urn:c> .\n" * 2048  # what an endless body repeats
    handler: Handler | None = None


def _route_key(path: str) -> str:
    """Path plus sorted query, so that ``/a?x=1&y=2`` and ``/a?y=2&x=1`` are one route."""
    parts = urlsplit(path)
    query = urlencode(sorted(parse_qsl(parts.query, keep_blank_values=True)))
    return f"{parts.path or '/'}?{query}" if query else (parts.path or "/")


def _bytes(body: bytes | str) -> bytes:
    return body.encode("utf-8") if isinstance(body, str) else body


class SourceServer:
    def __init__(self) -> None:
        self._routes: dict[str, Route] = {}
        self._lock = threading.Lock()
        self.requests: list[tuple[str, str, str]] = []  # (method, path, query) in the order received
        self.bodies: list[bytes] = []  # request bodies, same order
        self.headers: list[dict[str, str]] = []  # request headers (names in lower case), same order
        # Set by reset(): endless and trickled answers of a finished test stop writing.
        self._generation = 0
        server = self
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _make_handler(server))
        self._httpd.daemon_threads = True
        self.port = self._httpd.server_address[1]
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="source-server", daemon=True)
        self._thread.start()

    # ------------------------------------------------------------------ API

    def url(self, path: str = "/") -> str:
        return urljoin(f"http://127.0.0.1:{self.port}/", path.lstrip("/"))

    def serve(self, path: str, body: bytes | str, content_type: str | None = "text/turtle", status: int = 200,
              headers: dict[str, str] | None = None) -> None:
        self._set(path, Route(status=status, body=_bytes(body), content_type=content_type,
                              headers=dict(headers or {})))

    def serve_file(self, path: str, fixture_relative_path: str, content_type: str | None = None,
                   status: int = 200, headers: dict[str, str] | None = None) -> None:
        file = FIXTURES / fixture_relative_path
        self.serve(path, file.read_bytes(), content_type or _guess_type(file), status, headers)

    def redirect(self, path: str, to: str, status: int = 302) -> None:
        self._set(path, Route(status=status, content_type=None, headers={"Location": to}))

    def slow(self, path: str, seconds: float) -> None:
        """Sleep before answering: the route's answer if there is one, else a small Turtle body."""
        route = self._existing(path) or Route(body=b"<urn:a> <urn:b> <urn:c> .\n")
        route.delay = seconds
        self._set(path, route)

    def trickle(self, path: str, body: bytes | str, bytes_per_second: float,
                content_type: str | None = "text/turtle") -> None:
        """Send the body (with its true Content-Length) a byte at a time at this rate."""
        self._set(path, Route(body=_bytes(body), content_type=content_type, bytes_per_second=bytes_per_second))

    def infinite(self, path: str, content_type: str | None = "text/turtle", chunk: bytes | None = None) -> None:
        """An endless body without Content-Length, written as fast as the client reads: ``chunk`` repeated
        (Turtle triples by default; a chunk without a newline makes an endless line)."""
        route = Route(content_type=content_type, infinite=True)
        if chunk is not None:
            route.infinite_chunk = chunk
        self._set(path, route)

    def fail(self, path: str, status: int = 500, body: bytes | str = "error") -> None:
        self._set(path, Route(status=status, body=_bytes(body), content_type="text/plain"))

    def handle(self, path: str, handler: Handler) -> None:
        self._set(path, Route(handler=handler))

    def requested(self, path: str) -> int:
        """How many requests reached this path (any query)."""
        return sum(1 for _method, p, _query in self.requests if p == path)

    def reset(self) -> None:
        with self._lock:
            self._routes.clear()
            self.requests.clear()
            self.bodies.clear()
            self.headers.clear()
            self._generation += 1

    def close(self) -> None:
        self.reset()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=10)

    # ------------------------------------------------------------------ internals

    def _set(self, path: str, route: Route) -> None:
        with self._lock:
            self._routes[_route_key(path)] = route

    def _existing(self, path: str) -> Route | None:
        with self._lock:
            return self._routes.get(_route_key(path))

    def _lookup(self, raw_path: str) -> Route | None:
        parts = urlsplit(raw_path)
        with self._lock:
            return self._routes.get(_route_key(raw_path)) or self._routes.get(parts.path or "/")

    def _record(self, method: str, raw_path: str, body: bytes, headers: dict[str, str]) -> int:
        parts = urlsplit(raw_path)
        with self._lock:
            self.requests.append((method, parts.path, parts.query))
            self.bodies.append(body)
            self.headers.append(headers)
            return self._generation

    def _current(self, generation: int) -> bool:
        return generation == self._generation


def _guess_type(file: pathlib.Path) -> str:
    return CONTENT_TYPES.get(file.suffix.lower(), "application/octet-stream")


def _make_handler(server: SourceServer) -> type[BaseHTTPRequestHandler]:
    class _Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.0"  # one request per connection: simple and what the limits test
        timeout = 30  # a blocked write to a client that went away ends

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - base class signature
            pass

        def do_GET(self) -> None:
            self._answer("GET")

        def do_HEAD(self) -> None:
            self._answer("HEAD")

        def do_POST(self) -> None:
            self._answer("POST")

        def _answer(self, method: str) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            request_body = self.rfile.read(length) if length else b""
            generation = server._record(
                method, self.path, request_body, {k.lower(): v for k, v in self.headers.items()}
            )
            route = server._lookup(self.path) or _file_route(self.path)
            # A broken pipe or reset: the client stopped reading, what the limit tests do on purpose.
            with contextlib.suppress(OSError):
                self._send(method, route, request_body, generation)

        def _send(self, method: str, route: Route, request_body: bytes, generation: int) -> None:
            if route.delay:
                time.sleep(route.delay)
            status, headers, body = route.status, dict(route.headers), route.body
            content_type = route.content_type
            if route.handler is not None:
                parts = urlsplit(self.path)
                status, headers, raw = route.handler(method, parts.path, parts.query, request_body)
                body, content_type = _bytes(raw), None
            self.send_response(status)
            if content_type and not any(k.lower() == "content-type" for k in headers):
                self.send_header("Content-Type", content_type)
            if not route.infinite and not any(k.lower() == "content-length" for k in headers):
                self.send_header("Content-Length", str(len(body)))
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            if method == "HEAD":
                return
            if route.infinite:
                chunk = route.infinite_chunk
                while server._current(generation):
                    self.wfile.write(chunk)
            elif route.bytes_per_second:
                pause = 1.0 / route.bytes_per_second
                for i in range(len(body)):
                    if not server._current(generation):
                        return
                    self.wfile.write(body[i:i + 1])
                    self.wfile.flush()
                    time.sleep(pause)
            else:
                self.wfile.write(body)

    return _Handler


def _file_route(raw_path: str) -> Route:
    relative = urlsplit(raw_path).path.lstrip("/")
    file = (FIXTURES / relative).resolve()
    if not relative or FIXTURES.resolve() not in file.parents or not file.is_file():
        return Route(status=404, body=b"not found", content_type="text/plain")
    return Route(body=file.read_bytes(), content_type=_guess_type(file))


@pytest.fixture(scope="session")
def _source_server_instance() -> Iterator[SourceServer]:
    server = SourceServer()
    yield server
    server.close()


@pytest.fixture
def source_server(_source_server_instance: SourceServer) -> Iterator[SourceServer]:
    """The fixture HTTP server, its routes and request log empty at the start of the test."""
    _source_server_instance.reset()
    yield _source_server_instance
    _source_server_instance.reset()


@pytest.fixture
def allow_private_addresses(ckan_config, monkeypatch):
    """Guarded fetches may reach private addresses for this test (the fixture server is on 127.0.0.1)."""
    monkeypatch.setitem(ckan_config, "ckanext.communes.fetch.allow_private_addresses", True)


@pytest.fixture
def clean_queues(ckan_config: Any) -> Iterator[None]:
    """ckanext-harvest's gather and fetch queues empty (and their persistence keys) before and after."""
    from ckanext.communes.harvesters import queues

    def purge() -> None:
        client = queues.harvest_redis()
        for kind in (queues.GATHER, queues.FETCH):
            key = queues.routing_key(kind)
            client.delete(key, *client.keys(key + ":*"))
    purge()
    yield
    purge()
