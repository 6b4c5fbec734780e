"""The guarded HTTP client and the safe parsers, against a real HTTP server on 127.0.0.1.

The server is on a loopback address, which the guard refuses by default: tests that need to reach it either
use the ``allow_private_addresses`` fixture (through the CKAN config) or allow exactly 127.0.0.1 with
``FetchLimits(allowed_networks=...)`` so that every other private address stays refused.
"""

from __future__ import annotations

import datetime as dt
import logging
import socket
import time
import tracemalloc

import pytest

from ckanext.communes.net.fetch import (
    FetchError,
    FetchLimits,
    address_is_blocked,
    check_rdf_safe,
    fetch,
    limits_from_config,
    make_session,
    parse_json,
    parse_xml,
)

LOOPBACK_ONLY = ("127.0.0.1/32",)
TURTLE = "<urn:a> <urn:b> \"Lyon\" .\n"


def local(**kwargs) -> FetchLimits:
    """Limits that reach the fixture server (127.0.0.1) and nothing else private."""
    return FetchLimits(allowed_networks=LOOPBACK_ONLY, **kwargs)


def assert_error(info: pytest.ExceptionInfo[FetchError], reason: str, url: str) -> FetchError:
    error = info.value
    assert error.reason == reason, error.message
    assert error.url == url
    assert url in error.message  # the report names the URL
    assert str(error) == error.message
    return error


@pytest.fixture
def connects(monkeypatch) -> list:
    """Every address a socket of this process connects to during the test."""
    seen: list = []
    original = socket.socket.connect

    def recording_connect(self, address):
        seen.append(address[0] if isinstance(address, tuple) else address)
        return original(self, address)

    monkeypatch.setattr(socket.socket, "connect", recording_connect)
    return seen


# ------------------------------------------------------------------------------------------- good fetches


def test_fetch_returns_the_body_its_media_type_and_charset(source_server):
    source_server.serve("/catalog.ttl", TURTLE.encode("latin-1"), content_type="Text/Turtle; charset=ISO-8859-1",
                        headers={"ETag": '"v1"'})
    response = fetch(source_server.url("/catalog.ttl"), local(), accept="text/turtle")
    assert response.status == 200
    assert response.url == source_server.url("/catalog.ttl")
    assert response.content_type == "text/turtle"
    assert response.encoding == "ISO-8859-1"
    assert response.body == TURTLE.encode("latin-1")
    assert response.text() == TURTLE
    assert response.headers["etag"] == '"v1"'
    assert source_server.requests == [("GET", "/catalog.ttl", "")]
    assert source_server.headers[0]["accept"] == "text/turtle"


def test_text_falls_back_to_utf8_with_replacement_and_drops_a_bom(source_server):
    source_server.serve("/a.json", b"\xef\xbb\xbf{\"t\": \"\xc3\xa9t\xe9\"}", content_type="application/json")
    response = fetch(source_server.url("/a.json"), local())
    assert response.encoding is None
    assert response.text() == '{"t": "ét\ufffd"}'


def test_requests_carry_a_user_agent_naming_the_portal(source_server, ckan_config, monkeypatch):
    monkeypatch.setitem(ckan_config, "ckan.site_url", "https://data.communes.example")
    source_server.serve("/c.ttl", TURTLE)
    fetch(source_server.url("/c.ttl"), local(), headers={"X-Api-Key": "k"})
    sent = source_server.headers[0]
    assert sent["user-agent"] == "ckanext-communes harvester (+https://data.communes.example)"
    assert sent["x-api-key"] == "k"


def test_a_shared_session_serves_several_fetches(source_server):
    source_server.serve("/p1", "un")
    source_server.serve("/p2", "deux")
    session = make_session()
    assert fetch(source_server.url("/p1"), local(), session=session).text() == "un"
    assert fetch(source_server.url("/p2"), local(), session=session).text() == "deux"


def test_query_routes_and_fixture_files_are_served(source_server):
    source_server.serve("/api?page=2&rows=10", '{"page": 2}', content_type="application/json")
    source_server.serve("/api", '{"page": 1}', content_type="application/json")
    assert parse_json(fetch(source_server.url("/api?rows=10&page=2"), local()).body, "u") == {"page": 2}
    assert parse_json(fetch(source_server.url("/api?page=9"), local()).body, "u") == {"page": 1}
    response = fetch(source_server.url("/faulty/malformed.ttl"), local())
    assert response.content_type == "text/turtle" and b"dcat:Catalog" in response.body


# ------------------------------------------------------------------------------------------- redirects


def test_redirects_are_followed_and_the_final_url_is_reported(source_server):
    source_server.redirect("/old", "/middle", status=301)
    source_server.redirect("/middle", source_server.url("/catalog.ttl"), status=307)
    source_server.serve("/catalog.ttl", TURTLE)
    response = fetch(source_server.url("/old"), local(max_redirects=2))
    assert response.url == source_server.url("/catalog.ttl")
    assert response.text() == TURTLE
    assert [path for _m, path, _q in source_server.requests] == ["/old", "/middle", "/catalog.ttl"]


def test_a_redirect_chain_longer_than_the_cap_is_refused(source_server):
    for i in range(4):
        source_server.redirect(f"/r{i}", f"/r{i + 1}")
    source_server.serve("/r4", TURTLE)
    first = source_server.url("/r0")
    with pytest.raises(FetchError) as info:
        fetch(first, local(max_redirects=3))
    error = assert_error(info, "too_many_redirects", first)
    assert source_server.url("/r3") in error.message  # where it stopped
    assert source_server.requested("/r4") == 0


@pytest.mark.parametrize("target", ["http://10.0.0.1/catalog.ttl", "http://169.254.169.254/latest/meta-data/",
                                    "http://[::ffff:10.0.0.1]/", "http://0.0.0.0/"])
def test_a_redirect_to_a_private_address_is_refused_before_connecting(source_server, connects, target):
    source_server.redirect("/catalog.ttl", target)
    first = source_server.url("/catalog.ttl")
    started = time.monotonic()
    with pytest.raises(FetchError) as info:
        fetch(first, local(timeout=5))
    error = assert_error(info, "private_address", first)
    assert target in error.message
    assert time.monotonic() - started < 2  # refused, not a connect timeout
    assert connects and all(address == "127.0.0.1" for address in connects)


def test_a_redirect_to_another_origin_drops_credentials(source_server, allow_private_addresses):
    other_origin = f"http://localhost:{source_server.port}/catalog.ttl"
    source_server.redirect("/catalog.ttl", other_origin)
    source_server.serve("/catalog.ttl?moved=1", TURTLE)
    source_server.redirect("/same", "/catalog.ttl?moved=1")
    headers = {"Authorization": "Bearer secret", "X-Trace": "1"}
    fetch(source_server.url("/same"), limits_from_config(), headers=headers)
    assert source_server.headers[1]["authorization"] == "Bearer secret"  # same origin keeps them
    source_server.reset()
    source_server.redirect("/catalog.ttl", other_origin)
    source_server.handle("/catalog.ttl", lambda *_: (200, {"Content-Type": "text/turtle"}, TURTLE))
    source_server.redirect("/start", other_origin)
    fetch(source_server.url("/start"), limits_from_config(), headers=headers)
    assert "authorization" not in source_server.headers[1]
    assert source_server.headers[1]["x-trace"] == "1"


def test_a_redirect_to_a_file_url_is_refused(source_server):
    source_server.redirect("/catalog.ttl", "file:///etc/passwd")
    first = source_server.url("/catalog.ttl")
    with pytest.raises(FetchError) as info:
        fetch(first, local())
    error = assert_error(info, "scheme", first)
    assert "root:" not in error.message


# ------------------------------------------------------------------------------------------- addresses


def test_loopback_is_refused_with_the_default_config(source_server, connects):
    source_server.serve("/catalog.ttl", TURTLE)
    url = source_server.url("/catalog.ttl")
    limits = limits_from_config()
    assert limits.allow_private is False
    with pytest.raises(FetchError) as info:
        fetch(url, limits)
    assert "127.0.0.1" in assert_error(info, "private_address", url).message
    assert source_server.requests == []
    assert connects == []


def test_loopback_is_allowed_with_allow_private_addresses(source_server, allow_private_addresses):
    source_server.serve("/catalog.ttl", TURTLE)
    limits = limits_from_config()
    assert limits.allow_private is True
    assert fetch(source_server.url("/catalog.ttl"), limits).text() == TURTLE


OPTION = "ckanext.communes.fetch.allow_private_addresses"
OLD_OPTION = "ckanext.communes.harvest.allow_private_addresses"


@pytest.mark.parametrize("allowed", [True, False])
def test_the_option_governs_every_guarded_fetch(source_server, ckan_config, monkeypatch, allowed):
    """Its name says what it governs: every fetch of the guarded client (harvests, link checks, SCDL)."""
    monkeypatch.setitem(ckan_config, OPTION, allowed)
    monkeypatch.delitem(ckan_config, OLD_OPTION, raising=False)
    source_server.serve("/catalog.ttl", TURTLE)
    limits = limits_from_config()
    assert limits.allow_private is allowed
    if allowed:
        assert fetch(source_server.url("/catalog.ttl"), limits).text() == TURTLE
    else:
        with pytest.raises(FetchError) as info:
            fetch(source_server.url("/catalog.ttl"), limits)
        assert_error(info, "private_address", source_server.url("/catalog.ttl"))
        assert source_server.requests == []


def test_the_old_option_name_still_works_and_is_said_deprecated_once(source_server, ckan_config, monkeypatch,
                                                                      caplog):
    """A configuration written before the rename: CKAN, loading it, takes the old name for the new one
    (the declaration's legacy_key) and logs one deprecation warning; nothing else warns after."""
    from ckan.config.declaration import Declaration
    from ckan.plugins import toolkit as tk

    monkeypatch.delitem(ckan_config, OPTION, raising=False)
    monkeypatch.setitem(ckan_config, OLD_OPTION, "true")
    declaration = Declaration()
    declaration.load_plugin("communes")
    # A CKAN command run in-process earlier (logging.config.fileConfig) may have disabled CKAN's loggers.
    declaration_log = logging.getLogger("ckan.config.declaration")
    monkeypatch.setattr(declaration_log, "disabled", False)
    monkeypatch.setattr(declaration_log, "propagate", True)
    with caplog.at_level(logging.WARNING, logger="ckan.config.declaration"):
        declaration.make_safe(ckan_config)  # what CKAN does with the options when it loads its configuration
        source_server.serve("/catalog.ttl", TURTLE)
        for _ in range(2):
            limits = limits_from_config()
            assert limits.allow_private is True
            assert fetch(source_server.url("/catalog.ttl"), limits).text() == TURTLE
    assert tk.asbool(ckan_config[OPTION]) is True
    warnings = [record.getMessage() for record in caplog.records if OLD_OPTION in record.getMessage()]
    assert len(warnings) == 1 and "deprecated" in warnings[0] and OPTION in warnings[0], warnings


@pytest.mark.parametrize("host", ["[::ffff:127.0.0.1]", "2130706433", "0x7f.1", "localhost"])
def test_other_spellings_of_loopback_are_refused(source_server, connects, host):
    source_server.serve("/c.ttl", TURTLE)
    url = f"http://{host}:{source_server.port}/c.ttl"
    with pytest.raises(FetchError) as info:
        fetch(url, FetchLimits())
    assert_error(info, "private_address", url)
    assert connects == []


BLOCKED = [
    "127.0.0.1", "10.1.2.3", "172.16.0.1", "192.168.1.1", "169.254.169.254", "0.0.0.0", "100.64.0.1",
    "224.0.0.1", "240.0.0.1", "255.255.255.255", "::1", "::", "fe80::1", "fc00::1", "ff02::1",
    "::ffff:127.0.0.1", "::ffff:169.254.169.254", "2002:7f00:1::", "64:ff9b::a00:1", "not-an-ip",
]
PUBLIC = ["8.8.8.8", "193.51.24.1", "2a01:e0a::1", "::ffff:8.8.8.8"]


def test_private_and_reserved_addresses_are_blocked_and_public_ones_are_not():
    assert [a for a in BLOCKED if not address_is_blocked(a)] == []
    assert [a for a in PUBLIC if address_is_blocked(a)] == []


def test_an_allowed_network_opens_only_that_network():
    assert not address_is_blocked("127.0.0.1", LOOPBACK_ONLY)
    assert not address_is_blocked("::ffff:127.0.0.1", LOOPBACK_ONLY)
    assert address_is_blocked("127.0.0.2", LOOPBACK_ONLY)
    assert address_is_blocked("10.0.0.1", LOOPBACK_ONLY)


@pytest.mark.parametrize("scheme", ["http", "https"])
def test_dns_rebinding_between_the_check_and_the_connection_is_refused(source_server, connects, monkeypatch,
                                                                        scheme):
    """The first answer is public, the next one (when the connection resolves again) is 127.0.0.1: the
    connection layer checks what it connects to, so nothing connects."""
    real_getaddrinfo = socket.getaddrinfo
    answers = iter(["93.184.216.34", "127.0.0.1", "127.0.0.1"])

    def rebinding_getaddrinfo(host, port, *args, **kwargs):
        if host == "rebind.example":
            address = next(answers)
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port or 80))]
        return real_getaddrinfo(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", rebinding_getaddrinfo)
    url = f"{scheme}://rebind.example:{source_server.port}/c.ttl"
    with pytest.raises(FetchError) as info:
        fetch(url, FetchLimits(timeout=2))
    error = assert_error(info, "private_address", url)
    assert error.address == "127.0.0.1" and "127.0.0.1" not in error.message  # not shown (issue #17)
    assert connects == []


def test_an_unknown_host_is_a_dns_error(source_server):
    url = "http://no-such-host.invalid/catalog.ttl"
    with pytest.raises(FetchError) as info:
        fetch(url, FetchLimits(timeout=5))
    assert_error(info, "dns", url)


@pytest.mark.parametrize("url", [
    "file:///etc/passwd", "ftp://ftp.example.org/catalog.ttl", "gopher://example.org/", "data:text/plain,hi",
    "javascript:alert(1)", "catalog.ttl",
])
def test_other_schemes_are_refused(url, connects):
    with pytest.raises(FetchError) as info:
        fetch(url, FetchLimits(allow_private=True))
    error = assert_error(info, "scheme", url)
    assert "root:" not in error.message
    assert connects == []


def test_https_goes_through_the_guard_too(source_server):
    # The fixture server speaks plain HTTP: the TLS handshake fails, after the guard let 127.0.0.1 through.
    url = f"https://127.0.0.1:{source_server.port}/c.ttl"
    with pytest.raises(FetchError) as info:
        fetch(url, local(timeout=2))
    assert_error(info, "connection", url)
    with pytest.raises(FetchError) as info:
        fetch(url, FetchLimits(timeout=2))
    assert_error(info, "private_address", url)


# ------------------------------------------------------------------------------------------- time


def test_a_server_slower_than_the_timeout_is_a_timeout(source_server):
    source_server.slow("/slow.ttl", 3)
    url = source_server.url("/slow.ttl")
    started = time.monotonic()
    with pytest.raises(FetchError) as info:
        fetch(url, local(timeout=0.5))
    assert "0.5 s" in assert_error(info, "timeout", url).message
    assert time.monotonic() - started < 2


def test_a_trickling_server_is_stopped_by_the_wall_clock_cap(source_server):
    # A byte every 0.1 s never trips the 0.5 s read timeout; the whole fetch is capped at 4 × 0.5 s.
    source_server.trickle("/trickle.ttl", TURTLE * 20, bytes_per_second=10)
    url = source_server.url("/trickle.ttl")
    started = time.monotonic()
    with pytest.raises(FetchError) as info:
        fetch(url, local(timeout=0.5))
    elapsed = time.monotonic() - started
    assert "2 s" in assert_error(info, "timeout", url).message
    assert 1.8 < elapsed < 4


def test_a_trickle_within_the_cap_is_read_whole(source_server):
    source_server.trickle("/trickle.ttl", "abcde", bytes_per_second=20)
    assert fetch(source_server.url("/trickle.ttl"), local(timeout=1)).text() == "abcde"


def test_a_passed_job_deadline_stops_before_fetching(source_server):
    source_server.serve("/c.ttl", TURTLE)
    url = source_server.url("/c.ttl")
    with pytest.raises(FetchError) as info:
        fetch(url, local(deadline=time.monotonic() - 1))
    assert_error(info, "job_timeout", url)
    assert source_server.requests == []


def test_the_job_deadline_cuts_a_fetch_in_progress(source_server):
    source_server.slow("/slow.ttl", 5)
    url = source_server.url("/slow.ttl")
    started = time.monotonic()
    with pytest.raises(FetchError) as info:
        fetch(url, local(timeout=10, deadline=time.monotonic() + 0.5))
    assert_error(info, "job_timeout", url)
    assert time.monotonic() - started < 2


def test_the_job_deadline_cuts_a_redirect_chain(source_server):
    source_server.redirect("/old", "/slow.ttl")
    source_server.slow("/slow.ttl", 3)
    url = source_server.url("/old")
    started = time.monotonic()
    with pytest.raises(FetchError) as info:
        fetch(url, local(timeout=10, deadline=time.monotonic() + 0.5))
    assert source_server.url("/slow.ttl") in assert_error(info, "job_timeout", url).message
    assert time.monotonic() - started < 2


# ------------------------------------------------------------------------------------------- size


def test_an_endless_body_is_stopped_at_the_size_limit(source_server):
    source_server.infinite("/endless.ttl")
    url = source_server.url("/endless.ttl")
    limit = 2 * 1024 * 1024
    tracemalloc.start()
    started = time.monotonic()
    try:
        with pytest.raises(FetchError) as info:
            fetch(url, local(max_bytes=limit, timeout=5))
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert str(limit) in assert_error(info, "too_large", url).message
    assert time.monotonic() - started < 5
    assert peak < 4 * limit  # the body is never held beyond the limit (plus a chunk and its copy)


def test_a_content_length_over_the_limit_is_refused_before_reading(source_server):
    # Announces 10 GB and sends 5 bytes: reading would wait for the rest and time out.
    source_server.serve("/huge.ttl", "abcde", headers={"Content-Length": str(10 * 1024**3)})
    url = source_server.url("/huge.ttl")
    started = time.monotonic()
    with pytest.raises(FetchError) as info:
        fetch(url, local(max_bytes=1000, timeout=3))
    assert_error(info, "too_large", url)
    assert time.monotonic() - started < 1


def test_a_body_exactly_at_the_limit_is_accepted(source_server):
    source_server.serve("/exact", b"x" * 1000)
    assert len(fetch(source_server.url("/exact"), local(max_bytes=1000)).body) == 1000
    source_server.serve("/over", b"x" * 1001)
    with pytest.raises(FetchError) as info:
        fetch(source_server.url("/over"), local(max_bytes=1000))
    assert info.value.reason == "too_large"


# ------------------------------------------------------------------------------------------- status


@pytest.mark.parametrize("status", [404, 410, 500, 503])
def test_an_error_status_is_an_http_status_error(source_server, status):
    source_server.fail("/catalog.ttl", status=status)
    url = source_server.url("/catalog.ttl")
    with pytest.raises(FetchError) as info:
        fetch(url, local())
    error = assert_error(info, "http_status", url)
    assert error.status == status
    assert str(status) in error.message


def test_an_error_after_a_redirect_names_both_urls(source_server):
    source_server.redirect("/old", "/gone")
    source_server.fail("/gone", status=404)
    url = source_server.url("/old")
    with pytest.raises(FetchError) as info:
        fetch(url, local())
    assert source_server.url("/gone") in assert_error(info, "http_status", url).message


def test_a_refused_connection_is_a_connection_error():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens once closed
    url = f"http://127.0.0.1:{port}/c.ttl"
    with pytest.raises(FetchError) as info:
        fetch(url, local(timeout=2))
    assert_error(info, "connection", url)


# ------------------------------------------------------------------------------------------- parsers


@pytest.mark.parametrize("fixture", ["billion-laughs.rdf", "xxe.rdf"])
def test_entity_declarations_are_refused_by_the_parsers(source_server, fixture):
    url = source_server.url(f"/faulty/{fixture}")
    body = fetch(url, local()).body
    started = time.monotonic()
    with pytest.raises(FetchError) as info:
        parse_xml(body, url)
    parse_error = assert_error(info, "unsafe_xml", url)
    with pytest.raises(FetchError) as info:
        check_rdf_safe(body, url)
    check_error = assert_error(info, "unsafe_xml", url)
    assert time.monotonic() - started < 1
    passwd = open("/etc/passwd").read().splitlines()[0]  # noqa: SIM115
    assert passwd not in parse_error.message and passwd not in check_error.message
    assert "lollol" not in parse_error.message


def test_entities_in_utf16_or_in_a_document_lxml_rejects_are_still_refused():
    laughs = '<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE r [<!ENTITY a "b">]><r>&a;</r>'.encode("utf-16")
    with pytest.raises(FetchError):
        check_rdf_safe(laughs, "u")
    broken = b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "b">]><r>&a;</r'
    with pytest.raises(FetchError) as info:
        check_rdf_safe(broken, "u")
    assert info.value.reason == "unsafe_xml"
    external_dtd = b'<?xml version="1.0"?><!DOCTYPE r SYSTEM "file:///etc/passwd"><r/>'
    with pytest.raises(FetchError):
        parse_xml(external_dtd, "u")


def test_safe_documents_pass():
    rdf = b'<?xml version="1.0"?><!DOCTYPE rdf:RDF><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"/>'
    check_rdf_safe(rdf, "u")
    assert parse_xml(rdf, "u").tag.endswith("RDF")
    check_rdf_safe(TURTLE.encode(), "u")  # not XML: left to rdflib
    assert parse_json(b'{"a": [1, 2]}', "u") == {"a": [1, 2]}


@pytest.mark.parametrize("fixture", ["malformed.rdf", "malformed.json"])
def test_malformed_documents_are_malformed_errors(source_server, fixture):
    url = source_server.url(f"/faulty/{fixture}")
    response = fetch(url, local())
    parse = parse_json if fixture.endswith(".json") else parse_xml
    with pytest.raises(FetchError) as info:
        parse(response.body, url)
    assert_error(info, "malformed", url)


def test_odd_json_is_malformed_not_a_crash():
    for body in (b"", b"\xff\xfe\x00", b"[" * 100_000, b"1" * 5000):
        with pytest.raises(FetchError) as info:
            parse_json(body, "https://x/api")
        assert info.value.reason == "malformed"


# ------------------------------------------------------------------------------------------- limits from config


def test_limits_come_from_the_config(ckan_config, monkeypatch):
    limits = limits_from_config()
    assert (limits.timeout, limits.max_bytes, limits.max_redirects, limits.allow_private, limits.deadline) == (
        30.0, 52428800, 5, False, None)
    monkeypatch.setitem(ckan_config, "ckanext.communes.harvest.request_timeout", "12")
    monkeypatch.setitem(ckan_config, "ckanext.communes.harvest.max_redirects", "2")
    limits = limits_from_config()
    assert (limits.timeout, limits.max_redirects) == (12.0, 2)


def test_a_source_config_may_lower_but_not_raise_the_limits():
    lowered = limits_from_config({"request_timeout": 5, "max_response_bytes": 1000})
    assert (lowered.timeout, lowered.max_bytes) == (5.0, 1000)
    raised = limits_from_config({"request_timeout": 999, "max_response_bytes": 10**12})
    assert (raised.timeout, raised.max_bytes) == (30.0, 52428800)
    junk = limits_from_config({"request_timeout": "abc", "max_response_bytes": -1})
    assert (junk.timeout, junk.max_bytes) == (30.0, 52428800)


def test_the_deadline_is_the_job_start_plus_the_job_timeout(ckan_config, monkeypatch):
    monkeypatch.setitem(ckan_config, "ckanext.communes.harvest.job_timeout", "100")
    now = time.monotonic()
    assert limits_from_config(job_started=now).deadline == pytest.approx(now + 100)
    started = dt.datetime.utcnow() - dt.timedelta(seconds=40)  # naive UTC, as ckanext-harvest stores it
    assert limits_from_config(job_started=started).deadline == pytest.approx(time.monotonic() + 60, abs=2)
