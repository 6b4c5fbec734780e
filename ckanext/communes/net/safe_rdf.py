"""RDF read from an untrusted document without fetching anything it names.

A harvested catalogue is a remote document, and RDF serialisations can name other documents that a
parser would go and read: JSON-LD contexts (``"@context": URL``, lists of them, ``@import``, contexts on a
nested node, scoped contexts on a term or a type), XML DTDs and external entities. rdflib resolves JSON-LD
contexts itself, through urllib, outside the guarded client (no address check, no time or size limit,
``file://`` read from disk, environment proxies followed), and offers no hook to stop it. So:

* **JSON-LD** is read by PyLD with a document loader of our own that refuses every URL, and a context
  cache of our own (PyLD's default cache is shared by the process). PyLD asks its loader for every
  remote context, whatever its form, and never reads anything else: refusing in the loader refuses them
  all by construction. The triples are then added to the rdflib graph. The error names the refused
  context (the document's own text, never anything read).
* **RDF/XML** is read by rdflib's RDF/XML handler on an expat reader that raises on any entity
  declaration, external DTD or external entity reference, with external entities and parameter
  entities switched off: nothing is expanded, nothing is fetched.
* **Turtle** and **N-Triples** name no document to read (``@base`` and ``@prefix`` are only IRIs); other
  formats are refused.

Everything runs inside :func:`ckanext.communes.net.offline.offline`: if a library ever found another
road to the network, the attempt is refused at the socket and the document refused with it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pyexpat import XML_PARAM_ENTITY_PARSING_NEVER
from typing import Any, NoReturn
from xml.sax import SAXParseException
from xml.sax import handler as sax_handler
from xml.sax.expatreader import ExpatParser

import ckan.plugins.toolkit as tk
import rdflib
from pyld import jsonld
from pyld.context_resolver import ContextResolver
from rdflib.exceptions import ParserError
from rdflib.parser import create_input_source
from rdflib.plugin import PluginException
from rdflib.plugins.parsers.rdfxml import ErrorHandler, RDFXMLHandler

from ckanext.communes.net.offline import NetworkRefused, offline

FORMATS = ("turtle", "xml", "json-ld", "nt")
XSD_STRING = "http://www.w3.org/2001/XMLSchema#string"
RDF_LANG_STRING = "http://www.w3.org/1999/02/22-rdf-syntax-ns#langString"
SHOWN_URL_LENGTH = 150  # a refused context is named, cut to this many characters
# PyLD's codes for a context it found invalid before asking for it ("@context": [[URL]]).
_INVALID_CONTEXT_CODES = frozenset({"invalid local context", "invalid scoped context", "invalid remote context"})


class RdfError(Exception):
    """A document we do not read. ``reason``: ``remote_context`` (``context`` names it), ``unsafe_xml``,
    ``network`` (a library tried to reach the network), ``malformed`` or ``format``; ``message``: a French
    sentence naming the document's URL, for the harvest report."""

    def __init__(self, url: str, reason: str, message: str, context: str | None = None) -> None:
        super().__init__(message)
        self.url = url
        self.reason = reason
        self.message = message
        self.context = context


def parse_rdf(body: bytes, rdf_format: str, url: str, graph: rdflib.Graph | None = None) -> rdflib.Graph:
    """The triples of ``body`` (served at ``url``) added to ``graph`` (a new Graph if None), which is
    returned. Raises :class:`RdfError`; nothing named by the document is ever fetched or read."""
    target = graph if graph is not None else rdflib.Graph()
    if rdf_format not in FORMATS:
        raise RdfError(url, "format", tk._("{url}: the RDF format “{format}” is not read by the portal.").format(
            url=url, format=_shown(str(rdf_format))[:40]))
    with offline() as block:
        try:
            if rdf_format == "json-ld":
                _read_jsonld(body, url, target)
            elif rdf_format == "xml":
                _read_rdfxml(body, url, target)
            else:
                _read_plain(body, rdf_format, target)
        except RdfError:
            raise
        except NetworkRefused:
            _network_refused(url)
        except (SyntaxError, SAXParseException, ParserError, PluginException, TypeError, ValueError, KeyError,
                IndexError, AttributeError, UnicodeError, RecursionError) as error:
            if block.refused:
                _network_refused(url)
            raise RdfError(url, "malformed", _unreadable(url, str(error) or type(error).__name__)) from None
    if block.refused:  # a library caught the refusal and went on: the graph may lack what it wanted
        _network_refused(url)
    return target


def _unreadable(url: str, detail: str) -> str:
    return tk._("{url}: the RDF could not be read ({error}).").format(url=url, error=detail[:300])


def _network_refused(url: str) -> NoReturn:
    raise RdfError(url, "network", tk._(
        "{url}: reading the document would have required fetching another document, which the portal never "
        "does.").format(url=url))


def _shown(value: str) -> str:
    """A URL as the error names it: printable, cut short."""
    text = "".join(c if c.isprintable() else "?" for c in value)
    return text if len(text) <= SHOWN_URL_LENGTH else text[:SHOWN_URL_LENGTH] + "…"


# --------------------------------------------------------------------------------------------- JSON-LD


class _ContextRefused(Exception):
    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.url = url


def _remote_context(url: str, context: str) -> RdfError:
    return RdfError(url, "remote_context", tk._(
        "{url}: the JSON-LD document refers to the remote JSON-LD context {context}, which the portal never "
        "fetches: publish the context inside the document.").format(url=url, context=_shown(context)),
        context=context)


def _refusing_loader(refused: list[str]) -> Callable[..., NoReturn]:
    def load_document(url: str, options: Any = None) -> NoReturn:
        refused.append(str(url))
        raise _ContextRefused(str(url))

    return load_document


def _first_string(value: Any, depth: int = 0) -> str | None:
    """The first string in a context value PyLD found invalid (a URL in a nested list)."""
    if isinstance(value, str):
        return value
    if isinstance(value, list) and depth < 20:
        for item in value:
            found = _first_string(item, depth + 1)
            if found is not None:
                return found
    return None


def _read_jsonld(body: bytes, url: str, graph: rdflib.Graph) -> None:
    try:
        document = json.loads(body)
    except (ValueError, RecursionError) as error:
        raise RdfError(url, "malformed", tk._("{url}: the document is not valid JSON ({detail})").format(
            url=url, detail=str(error)[:200])) from None
    refused: list[str] = []
    loader = _refusing_loader(refused)
    options = {
        "base": url,
        "documentLoader": loader,
        # A cache of our own, empty (it holds remote contexts only, and we load none): PyLD's default one is
        # shared by the process and could hold a context someone else fetched.
        "contextResolver": ContextResolver({}, loader),
        "extractAllScripts": False,
    }
    try:
        dataset = jsonld.to_rdf(document, options)
    except (_ContextRefused, jsonld.JsonLdError) as error:
        if refused:
            raise _remote_context(url, refused[0]) from None
        raise _jsonld_error(url, error) from None
    if refused:  # PyLD went on without a context it asked for: refused all the same
        raise _remote_context(url, refused[0])
    _add_dataset(graph, dataset)


def _jsonld_error(url: str, error: BaseException) -> RdfError:
    """A JSON-LD error: a remote context PyLD found invalid before asking its loader for it (a URL in a
    nested list) is named as refused; otherwise PyLD's own sentence (never its details, which quote the
    document)."""
    innermost: BaseException = error
    current: BaseException | None = error
    while current is not None:
        if isinstance(current, jsonld.JsonLdError):
            innermost = current
            details = current.details if isinstance(current.details, dict) else {}
            if current.code in _INVALID_CONTEXT_CODES:
                named = _first_string(details.get("context"))
                if named is not None:
                    return _remote_context(url, named)
        current = current.__cause__
    sentence = str(innermost.args[0]) if innermost.args else type(innermost).__name__
    return RdfError(url, "malformed", _unreadable(url, sentence))


def _add_dataset(graph: rdflib.Graph, dataset: dict[str, list[dict[str, Any]]]) -> None:
    """PyLD's RDF dataset into the rdflib graph: the default graph into the graph itself (its default
    context for a ConjunctiveGraph, as rdflib's own parser does), named graphs as contexts."""
    blank_nodes: dict[str, rdflib.BNode] = {}  # PyLD's labels, fresh nodes for this document

    def term(node: dict[str, Any]) -> rdflib.term.Node:
        kind, value = node["type"], node["value"]
        if kind == "IRI":
            return rdflib.URIRef(value)
        if kind == "blank node":
            return blank_nodes.setdefault(value, rdflib.BNode())
        language, datatype = node.get("language"), node.get("datatype")
        if language:
            return rdflib.Literal(value, lang=language)
        if datatype in (None, XSD_STRING, RDF_LANG_STRING):
            return rdflib.Literal(value)
        return rdflib.Literal(value, datatype=rdflib.URIRef(datatype))

    context_aware = getattr(graph, "context_aware", False)
    for name, quads in dataset.items():
        if name == "@default" or not context_aware:
            target = graph.default_context if context_aware else graph  # type: ignore[attr-defined]
        else:
            identifier = blank_nodes.setdefault(name, rdflib.BNode()) if name.startswith("_:") else rdflib.URIRef(name)
            target = graph.get_context(identifier)  # type: ignore[attr-defined]
        for quad in quads:
            target.add((term(quad["subject"]), term(quad["predicate"]), term(quad["object"])))


# --------------------------------------------------------------------------------------------- RDF/XML


def _unsafe_xml(url: str) -> RdfError:
    return RdfError(url, "unsafe_xml", tk._(
        "{url}: the XML document declares entities or an external DTD, refused for safety").format(url=url))


class _UnsafeXml(Exception):
    pass


class _NoEntityExpatReader(ExpatParser):
    """xml.sax's expat reader that raises on any entity declaration (billion laughs, XXE), any external
    DTD and any external entity reference, and never parses parameter entities."""

    def reset(self) -> None:
        super().reset()
        parser = self._parser  # type: ignore[attr-defined]
        parser.SetParamEntityParsing(XML_PARAM_ENTITY_PARSING_NEVER)
        parser.StartDoctypeDeclHandler = self._doctype
        parser.EntityDeclHandler = self._entity
        parser.UnparsedEntityDeclHandler = self._entity

    def _doctype(self, name: str, system_id: str | None, public_id: str | None, has_internal_subset: bool) -> None:
        if system_id or public_id:
            raise _UnsafeXml()

    def _entity(self, *args: Any) -> None:
        raise _UnsafeXml()

    def external_entity_ref(self, context: Any, base: Any, system_id: Any, public_id: Any) -> int:
        raise _UnsafeXml()


def _read_rdfxml(body: bytes, url: str, graph: rdflib.Graph) -> None:
    # What rdflib's RDFXMLParser does (rdflib.plugins.parsers.rdfxml.create_parser), on our reader.
    source = create_input_source(data=body, format="xml")
    target = graph.default_context if getattr(graph, "context_aware", False) else graph  # type: ignore[attr-defined]
    reader = _NoEntityExpatReader(namespaceHandling=1)
    reader.setFeature(sax_handler.feature_namespaces, 1)
    reader.setFeature(sax_handler.feature_external_ges, False)
    reader.setFeature(sax_handler.feature_external_pes, False)
    content = RDFXMLHandler(target)
    content.setDocumentLocator(source)  # type: ignore[arg-type]
    reader.setContentHandler(content)
    reader.setErrorHandler(ErrorHandler())
    try:
        reader.parse(source)
    except _UnsafeXml:
        raise _unsafe_xml(url) from None
    finally:
        source.close()


# --------------------------------------------------------------------------------------------- Turtle, N-Triples


def _read_plain(body: bytes, rdf_format: str, graph: rdflib.Graph) -> None:
    # As ckanext-dcat's RDFParser.parse does: the same base, the same behaviour; these syntaxes name no
    # document to read.
    graph.parse(data=body, format=rdf_format)
