"""No parser a harvest or a quality check uses fetches anything: a remote document may name URLs (JSON-LD
contexts, XML DTDs and entities, owl:imports, Table Schema references), and none of them is ever fetched
or read from disk, whatever its form. Only the guarded client (net/fetch.py) goes on the network.

Each variant is served next to a *listener*: a second real HTTP server on 127.0.0.1 that counts the
requests it receives. It must receive none. Local files named as contexts are watched through Python's
audit hooks (an ``open`` of the file is recorded): they must never be opened, and what they contain must
appear nowhere, neither in the job report nor in the logs."""

from __future__ import annotations

import contextlib
import json
import logging
import pathlib
import sys
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import rdflib
import rdflib.compare
from ckan.tests import helpers
from rdflib.namespace import OWL, RDF, SH

from ckanext.communes.harvesters import jobs
from ckanext.communes.harvesters.report import report_for_job
from ckanext.communes.net import fetch
from ckanext.communes.quality import scdl, scdl_schemas, shacl
from ckanext.communes.tests.harvesters.checks import harvested
from ckanext.communes.tests.harvesters.conftest import SourceServer
from ckanext.communes.tests.harvesters.test_dcat_harvest import make_source, portal  # noqa: F401 - fixture

DCAT = "http://www.w3.org/ns/dcat#"
DCT = "http://purl.org/dc/terms/"
PREFIXES = {"dcat": DCAT, "dct": DCT}
# One dataset in full IRIs: readable with or without the remote context.
DATASET = {"@id": "https://example.org/ds/bancs", "@type": DCAT + "Dataset", DCT + "title": "Bancs publics"}
MARKER = "contenu-secret-7f3a9c"


# --------------------------------------------------------------------------------------------- listeners


@pytest.fixture(scope="module")
def _listener_instance() -> Iterator[SourceServer]:
    server = SourceServer()
    yield server
    server.close()


@pytest.fixture
def listener(_listener_instance: SourceServer) -> Iterator[SourceServer]:
    """A second server on 127.0.0.1 that serves valid contexts, DTDs, schemas... and counts requests."""
    _listener_instance.reset()
    context = json.dumps({"@context": {**PREFIXES, "titre": DCT + "title"}})
    for path in ("/contexte.jsonld", "/autre.jsonld"):
        _listener_instance.serve(path, context, content_type="application/ld+json")
    _listener_instance.serve("/schema.json", json.dumps({"fields": [{"name": "a", "type": "string"}]}),
                             content_type="application/json")
    _listener_instance.serve("/formes.ttl", f"<urn:x> <{RDF.type}> <{SH.NodeShape}> .", content_type="text/turtle")
    yield _listener_instance
    _listener_instance.reset()


@pytest.fixture
def every_log(clean_db, caplog) -> Iterator[pytest.LogCaptureFixture]:
    """caplog with every record, DEBUG included. The migrations clean_db runs (alembic's env.py calls
    logging.config.fileConfig) disable the loggers that existed before: they are enabled again here."""
    disabled = [logger for logger in logging.Logger.manager.loggerDict.values()
                if isinstance(logger, logging.Logger) and logger.disabled]
    for logger in disabled:
        logger.disabled = False
    for name in ("", "ckan", "ckanext", "rdflib", "pyld", "pyshacl", "frictionless", "urllib3"):
        caplog.set_level(logging.DEBUG, logger=name or None)
    yield caplog
    for logger in disabled:
        logger.disabled = True


_recording: list[str] | None = None
_recording_lock = threading.Lock()
_hook_installed = False


def _audit(event: str, args: tuple[Any, ...]) -> None:
    recording = _recording
    if recording is not None and event == "open" and args and isinstance(args[0], (str, bytes, pathlib.Path)):
        recording.append(str(args[0]))


@contextmanager
def opened_files() -> Iterator[list[str]]:
    """The paths opened (by anything in the process) while the block runs."""
    global _recording, _hook_installed
    with _recording_lock:
        if not _hook_installed:
            sys.addaudithook(_audit)  # cannot be removed: it records only inside this block
            _hook_installed = True
    paths: list[str] = []
    _recording = paths
    try:
        yield paths
    finally:
        _recording = None


# --------------------------------------------------------------------------------------------- JSON-LD


def jsonld_variants(ctx: str) -> dict[str, Any]:
    """Every form a remote context can take in a JSON-LD document; ``ctx`` is the context's URL."""
    return {
        "string": {"@context": ctx, "@graph": [DATASET]},
        "list_of_strings": {"@context": [PREFIXES, ctx], "@graph": [DATASET]},
        "nested_list": {"@context": [[ctx]], "@graph": [DATASET]},
        "import": {"@context": {"@import": ctx, **PREFIXES}, "@graph": [DATASET]},
        "nested_node": {"@context": PREFIXES, "@graph": [{**DATASET, "@context": ctx}]},
        "deep_node": {"@context": PREFIXES, "@graph": [{**DATASET, DCT + "publisher": {
            "@id": "https://example.org/org/bron", "@context": {"@import": ctx}}}]},
        "scoped_term": {
            "@context": {**PREFIXES, "editeur": {"@id": DCT + "publisher", "@context": ctx}},
            "@graph": [{**DATASET, "editeur": {"@id": "https://example.org/org/bron"}}],
        },
        "scoped_term_unused": {
            "@context": {**PREFIXES, "editeur": {"@id": DCT + "publisher", "@context": [[ctx]]}},
            "@graph": [DATASET],
        },
        "type_scoped": {
            "@context": {**PREFIXES, "JeuDeDonnees": {"@id": DCAT + "Dataset", "@context": {"@import": ctx}}},
            "@graph": [{**DATASET, "@type": "JeuDeDonnees"}],
        },
    }


def serve_jsonld(source_server: SourceServer, document: Any) -> str:
    source_server.serve("/dcat/page.jsonld", json.dumps(document), content_type="application/ld+json")
    return source_server.url("/dcat/page.jsonld")


def run_job(app: Any, source_id: str) -> dict[str, Any]:
    """The job run here, in a request context as the workers and ``run --sync`` run it (French messages)."""
    with app.flask_app.test_request_context():
        return jobs.run_source(source_id)


def job_texts(job: dict[str, Any]) -> str:
    """Everything a job shows: its report's messages and ckanext-harvest's own record of it."""
    report = report_for_job(job["id"])
    shown = helpers.call_action("harvest_job_show", id=job["id"])
    return json.dumps(report.messages if report else [], ensure_ascii=False) + json.dumps(shown, ensure_ascii=False,
                                                                                      default=str)


def error_messages(job: dict[str, Any]) -> list[str]:
    report = report_for_job(job["id"])
    return [m["message"] for m in report.messages if m["level"] == "error"]


# One portal and one source per test: each variant is served in turn and harvested again (a job whose
# page is refused changes nothing, so the next run starts from the same state).


@pytest.mark.usefixtures("clean_db", "clean_index", "allow_private_addresses")
def test_no_form_of_remote_jsonld_context_is_fetched_and_the_job_names_it_in_french(
        app, portal, source_server, listener):  # noqa: F811 - the fixture imported above
    ctx = listener.url("/contexte.jsonld")
    source = make_source(portal, source_server.url("/dcat/page.jsonld"))
    for variant, document in jsonld_variants(ctx).items():
        serve_jsonld(source_server, document)
        job = run_job(app, source["id"])
        assert listener.requests == [], variant
        assert job["status"] == "Finished"
        assert harvested(source["id"]) == {}, variant
        [message] = error_messages(job)
        assert ctx in message and "contexte JSON-LD distant" in message, (variant, message)


@pytest.mark.usefixtures("clean_db", "clean_index", "allow_private_addresses")
def test_a_relative_context_is_not_fetched_from_the_catalogue_server_either(app, portal, source_server):  # noqa: F811
    source_server.serve("/dcat/contexte.jsonld", json.dumps({"@context": PREFIXES}),
                        content_type="application/ld+json")
    source = make_source(portal, serve_jsonld(source_server, {"@context": "contexte.jsonld", "@graph": [DATASET]}))
    job = run_job(app, source["id"])
    assert source_server.requested("/dcat/contexte.jsonld") == 0
    [message] = error_messages(job)
    assert source_server.url("/dcat/contexte.jsonld") in message


@pytest.mark.usefixtures("clean_db", "clean_index", "allow_private_addresses")
def test_a_local_file_named_as_a_context_is_never_read_nor_shown(app, portal, source_server,  # noqa: F811
                                                                   every_log):
    source = make_source(portal, source_server.url("/dcat/page.jsonld"))
    with tempfile.TemporaryDirectory(prefix="communes-secret-") as folder:
        secret = pathlib.Path(folder) / "contexte-secret.jsonld"
        secret.write_text(json.dumps({"@context": {"@vocab": f"https://{MARKER}.example/",
                                                   "titre": f"https://{MARKER}.example/titre"}}))
        for path in (pathlib.Path("/etc/hostname"), secret):
            url = path.as_uri()
            content = path.read_text().strip() if path.exists() else ""
            for form, document in {
                "import": {"@context": {"@import": url}, "@graph": [{**DATASET, "titre": "x", "autre": "y"}]},
                "string": {"@context": url, "@graph": [DATASET]},
                "scoped_term": {"@context": {"editeur": {"@id": DCT + "publisher", "@context": url}},
                                "@graph": [{**DATASET, "editeur": {"@id": "https://example.org/org/bron"}}]},
            }.items():
                serve_jsonld(source_server, document)
                with opened_files() as opened:
                    job = run_job(app, source["id"])
                assert str(path) not in opened, (path, form)
                [message] = error_messages(job)
                assert url in message, (path, form)
                shown = job_texts(job) + every_log.text
                assert "/dcat/page.jsonld" in every_log.text  # the logs are captured (the fetch of the page is)
                assert MARKER not in shown, (path, form)
                if len(content) >= 6:  # a short host name ("vm") could match anything: the open check says enough
                    assert content not in shown, (path, form)


# --------------------------------------------------------------------------------------------- parser level


def test_the_safe_parser_refuses_every_jsonld_variant_without_a_request(listener):
    from ckanext.communes.net import safe_rdf

    ctx = listener.url("/contexte.jsonld")
    for name, document in jsonld_variants(ctx).items():
        with pytest.raises(safe_rdf.RdfError) as info:
            safe_rdf.parse_rdf(json.dumps(document).encode(), "json-ld", "https://example.org/page.jsonld")
        assert info.value.reason == "remote_context", name
        assert info.value.context == ctx, name
    assert listener.requests == []
    # What the listener would have seen from rdflib's own JSON-LD parser: it does count.
    rdflib.Graph().parse(data=json.dumps(jsonld_variants(ctx)["import"]), format="json-ld")
    assert listener.requested("/contexte.jsonld") == 1


def test_the_safe_parser_reads_an_inline_jsonld_document_like_rdflib(listener):
    from ckanext.communes.net import safe_rdf

    document = {"@context": {**PREFIXES, "titre": {"@id": DCT + "title", "@language": "fr"}},
                "@graph": [{"@id": "https://example.org/ds/bancs", "@type": "dcat:Dataset", "titre": "Bancs",
                            "dct:issued": {"@value": "2024-01-02", "@type": "http://www.w3.org/2001/XMLSchema#date"},
                            "dcat:keyword": ["bancs", "mobilier"], "dct:publisher": {"dct:title": "Bron"},
                            "dct:description": "Les bancs."}]}
    body = json.dumps(document).encode()
    ours = safe_rdf.parse_rdf(body, "json-ld", "https://example.org/page.jsonld")
    theirs = rdflib.Graph().parse(data=body, format="json-ld")
    assert rdflib.compare.isomorphic(ours, theirs)


def test_a_long_context_url_is_named_cut_short(listener):
    from ckanext.communes.net import safe_rdf

    ctx = listener.url("/contexte.jsonld") + "?" + "x" * 1000
    with pytest.raises(safe_rdf.RdfError) as info:
        safe_rdf.parse_rdf(json.dumps({"@context": ctx}).encode(), "json-ld", "https://example.org/p")
    assert len(info.value.message) < 400 and ctx[:80] in info.value.message
    assert listener.requests == []


def xml_variants(base: str) -> dict[str, str]:
    body = ('<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns:dct="http://purl.org/dc/terms/">'
            '<rdf:Description rdf:about="https://example.org/ds/a"><dct:title>{title}</dct:title></rdf:Description>'
            '</rdf:RDF>')
    return {
        "external_dtd": f'<?xml version="1.0"?><!DOCTYPE rdf:RDF SYSTEM "{base}/rdf.dtd">' + body.format(title="a"),
        "public_dtd": f'<?xml version="1.0"?><!DOCTYPE rdf:RDF PUBLIC "-//X//Y//FR" "{base}/rdf.dtd">'
                      + body.format(title="a"),
        "external_entity": f'<?xml version="1.0"?><!DOCTYPE rdf:RDF [<!ENTITY e SYSTEM "{base}/entite">]>'
                           + body.format(title="&e;"),
        "parameter_entity": f'<?xml version="1.0"?><!DOCTYPE rdf:RDF [<!ENTITY % p SYSTEM "{base}/param"> %p;]>'
                            + body.format(title="a"),
        "file_entity": '<?xml version="1.0"?><!DOCTYPE rdf:RDF [<!ENTITY e SYSTEM "file:///etc/hostname">]>'
                       + body.format(title="&e;"),
        "internal_entity": '<?xml version="1.0"?><!DOCTYPE rdf:RDF [<!ENTITY e "b">]>' + body.format(title="&e;"),
    }


def test_rdfxml_entities_and_dtds_are_refused_by_the_parser_itself_without_a_request(app, listener):
    from ckanext.communes.net import safe_rdf

    variants = xml_variants(listener.url("/").rstrip("/"))
    for name, text in variants.items():
        with app.flask_app.test_request_context(), opened_files() as opened, \
                pytest.raises(safe_rdf.RdfError) as info:
            safe_rdf.parse_rdf(text.encode(), "xml", "https://example.org/page.rdf")
        assert info.value.reason == "unsafe_xml", name
        assert "entités" in info.value.message and "DTD" in info.value.message, name
        assert "/etc/hostname" not in opened
    # In UTF-16 (which rdflib does not read): refused all the same, still without a request.
    utf16 = variants["external_entity"].replace('version="1.0"', 'version="1.0" encoding="UTF-16"')
    with pytest.raises(safe_rdf.RdfError):
        safe_rdf.parse_rdf(utf16.encode("utf-16"), "xml", "https://example.org/page.rdf")
    assert listener.requests == []


def test_turtle_and_ntriples_never_fetch_their_base_prefixes_or_iris(listener):
    from ckanext.communes.net import safe_rdf

    base = listener.url("/").rstrip("/")
    turtle = (f"@base <{base}/base/> .\n@prefix l: <{base}/ns#> .\nPREFIX m: <{base}/m#>\n"
              f"<a> l:p <{base}/objet> ; m:q <relatif> .\n")
    graph = safe_rdf.parse_rdf(turtle.encode(), "turtle", "https://example.org/page.ttl")
    assert len(graph) == 2
    triples = f"<{base}/s> <{base}/p> <{base}/o> .\n"
    assert len(safe_rdf.parse_rdf(triples.encode(), "nt", "https://example.org/page.nt")) == 1
    assert listener.requests == []


def test_an_unknown_rdf_format_is_refused_in_french():
    from ckanext.communes.net import safe_rdf

    with pytest.raises(safe_rdf.RdfError) as info:
        safe_rdf.parse_rdf(b"@include <x>", "n3", "https://example.org/p")
    assert info.value.reason == "format"


@pytest.mark.usefixtures("clean_db", "clean_index", "allow_private_addresses")
def test_an_rdfxml_catalogue_with_an_external_dtd_fails_the_job_without_a_request(app, portal, source_server,  # noqa: F811
                                                                                  listener):
    body = xml_variants(listener.url("/").rstrip("/"))["external_dtd"]
    source_server.serve("/dcat/page.rdf", body, content_type="application/rdf+xml")
    source = make_source(portal, source_server.url("/dcat/page.rdf"))
    job = run_job(app, source["id"])
    assert listener.requests == []
    [message] = error_messages(job)
    assert "DTD" in message


# --------------------------------------------------------------------------------------------- ISO 19139


def test_iso19139_dtds_xinclude_and_schema_locations_are_never_fetched(listener):
    base = listener.url("/").rstrip("/")
    with pytest.raises(fetch.FetchError) as info:
        fetch.parse_xml(f'<?xml version="1.0"?><!DOCTYPE gmd:MD_Metadata SYSTEM "{base}/iso.dtd">'
                        '<gmd:MD_Metadata xmlns:gmd="http://www.isotc211.org/2005/gmd"/>'.encode(), "u")
    assert info.value.reason == "unsafe_xml"
    root = fetch.parse_xml(
        f'<gmd:MD_Metadata xmlns:gmd="http://www.isotc211.org/2005/gmd" '
        f'xmlns:xi="http://www.w3.org/2001/XInclude" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
        f'xsi:schemaLocation="http://www.isotc211.org/2005/gmd {base}/gmd.xsd">'
        f'<xi:include href="{base}/inclus.xml"/><xi:include href="file:///etc/hostname" parse="text"/>'
        f'</gmd:MD_Metadata>'.encode(), "u")
    assert len(root) == 2  # the xi:include elements stay elements: nothing was included
    assert listener.requests == []


# --------------------------------------------------------------------------------------------- SHACL


def test_shacl_follows_no_owl_imports_of_the_data_or_the_shapes(listener, monkeypatch):
    data = rdflib.Graph()
    dataset = rdflib.URIRef("https://example.org/ds/a")
    data.add((dataset, RDF.type, rdflib.URIRef(DCAT + "Dataset")))
    data.add((dataset, OWL.imports, rdflib.URIRef(listener.url("/formes.ttl"))))
    shapes = rdflib.Graph()
    ontology = rdflib.URIRef("https://example.org/formes")
    shapes.add((ontology, RDF.type, OWL.Ontology))
    shapes.add((ontology, OWL.imports, rdflib.URIRef(listener.url("/formes.ttl"))))
    shape = rdflib.URIRef("https://example.org/formes#Dataset")
    shapes.add((shape, RDF.type, SH.NodeShape))
    shapes.add((shape, SH.targetClass, rdflib.URIRef(DCAT + "Dataset")))
    monkeypatch.setattr(shacl, "shapes_graph", lambda: shapes)
    result = shacl.validate_graph(data)
    assert result.conforms is True
    assert listener.requests == []


# --------------------------------------------------------------------------------------------- frictionless


def test_scdl_validation_fetches_no_url_named_in_a_schema_descriptor(listener, monkeypatch):
    schema = scdl_schemas.shipped_schema("scdl/subventions")
    descriptor = json.loads(scdl_schemas.schema_descriptor(schema.code))
    url = listener.url("/schema.json")
    descriptor.update({"$schema": url, "path": url, "profile": url, "resources": [{"path": url, "schema": url}]})
    descriptor["fields"][0]["$ref"] = url
    monkeypatch.setattr(scdl, "schema_descriptor", lambda code: json.dumps(descriptor))
    figures = scdl.validate_bytes(b"nomAttribuant\nBron\n", schema)
    assert figures["error_count"] > 0  # missing columns: validated, against the shipped fields
    assert listener.requests == []


def test_frictionless_offline_refuses_a_schema_or_dialect_url(listener, tmp_path):
    from frictionless import FrictionlessException, Resource

    from ckanext.communes.net import safe_tables

    (tmp_path / "data.csv").write_text("a\nx\n")
    # Outside the sandbox frictionless itself fetches a schema given as a URL: the listener counts it.
    Resource(path="data.csv", basepath=str(tmp_path), format="csv", schema=listener.url("/schema.json")).validate()
    assert listener.requested("/schema.json") == 1
    listener.requests.clear()
    for kwargs in ({"schema": listener.url("/schema.json")}, {"dialect": listener.url("/schema.json")},
                   {"path": listener.url("/data.csv")}):
        with safe_tables.offline():
            try:
                report = Resource(**{"path": "data.csv", "basepath": str(tmp_path), "format": "csv", **kwargs}
                                  ).validate()
            except FrictionlessException:
                continue
            assert not report.valid, kwargs
    assert listener.requests == []


# --------------------------------------------------------------------------------------------- the backstop


def test_inside_offline_no_connection_leaves_the_thread_and_other_threads_go_on(listener):
    import socket
    import urllib.request

    from ckanext.communes.net.offline import NetworkRefused, offline

    with offline() as block:
        with pytest.raises(NetworkRefused):
            urllib.request.urlopen(listener.url("/contexte.jsonld"), timeout=2)
        with pytest.raises(NetworkRefused):
            socket.create_connection(("127.0.0.1", listener.port), timeout=2)
        with pytest.raises(NetworkRefused):
            urllib.request.urlopen("file:///etc/hostname")
        # Another thread (the web server's, the database's) is not concerned.
        answers: list[int] = []
        thread = threading.Thread(target=lambda: answers.append(
            urllib.request.urlopen(listener.url("/contexte.jsonld"), timeout=5).status))
        thread.start()
        thread.join(10)
        assert answers == [200]
    assert [refused.event for refused in block.refused] == ["urllib.Request", "socket.getaddrinfo", "urllib.Request"]
    assert listener.requested("/contexte.jsonld") == 1  # the other thread's request only
    # After the block, this thread is free again.
    assert urllib.request.urlopen(listener.url("/contexte.jsonld"), timeout=5).status == 200


def test_a_parser_that_swallows_the_refusal_still_fails_the_document(listener, monkeypatch):
    import urllib.request

    from ckanext.communes.net import safe_rdf

    def reader_that_tries_anyway(body: bytes, rdf_format: str, graph: rdflib.Graph) -> None:
        with contextlib.suppress(Exception):  # what a careless library would do
            urllib.request.urlopen(listener.url("/contexte.jsonld"), timeout=2)
        graph.parse(data=body, format=rdf_format)

    monkeypatch.setattr(safe_rdf, "_read_plain", reader_that_tries_anyway)
    with pytest.raises(safe_rdf.RdfError) as info:
        safe_rdf.parse_rdf(b"<urn:a> <urn:b> <urn:c> .", "nt", "https://example.org/p.nt")
    assert info.value.reason == "network"
    assert listener.requests == []
