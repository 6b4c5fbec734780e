"""Per-dataset DCAT-AP 3.0.1 SHACL check, in the background.

The dataset's RDF is what ``/dataset/{id}.ttl`` serves (ckanext-dcat's ``RDFSerializer`` with the
configured profiles, ours included); it is validated against the official shapes shipped in
``data/shacl/`` (see SOURCES.txt). The result (conforms, number of sh:Violation, first messages) is
kept in ``communes_shacl_check`` (models.py: one row per dataset, replaced by each check); the quality
score reads it (evidence.py). Only violations count: warnings and infos of the shapes are advice.

The data graph is validated as a consumer receives it: NAL membership as the graph states it (our
profile states each concept's scheme). The tests also check NAL membership against the official EU
files (tests/dcat), which the package does not ship.

The background checks validate a batch of datasets at once (:func:`validate_batch`): pyshacl's cost is
mostly per validation (every shape looks for its targets), so the batch's graphs are validated as one graph,
and a dataset is re-checked alone when that graph's result might differ from its own: a violation on one of
its nodes, or a node of its graph (a publisher, a concept) about which another dataset of the batch states
something it does not. Each dataset's stored result is what a check of its graph alone gives.

Nothing is fetched: the shapes are the shipped files, the data graph is built in memory, pyshacl is told
not to follow ``owl:imports`` (it never does for the data graph; for the shapes it would, through rdflib,
outside the guarded client) and it runs inside ``net.offline.offline`` (no connection from the thread).
"""

from __future__ import annotations

import contextlib
import datetime
import functools
import logging
import os
import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import ckan.plugins.toolkit as tk
import rdflib
from ckan import model
from rdflib.namespace import RDF, SH

from ckanext.communes.net.offline import offline
from ckanext.communes.quality import evidence, mqa_facts
from ckanext.communes.quality.models import ShaclCheck

log = logging.getLogger(__name__)

SHACL_DIR = os.path.join(os.path.dirname(__file__), "data", "shacl")
SHAPE_FILES = ("dcat-ap-3.0.1-SHACL.ttl", "dcat-ap-3.0.1-mdr-vocabularies.shape.ttl")
# The SEMIC DCAT-AP HVD 3.0.0 shapes (what data.europa.eu checks an HVD dataset against). Not part of the
# per-dataset check: they apply to HVD datasets only, and their targets are every dcat:Dataset of a graph.
HVD_SHAPES_FILE = os.path.join(SHACL_DIR, "hvd-3.0.0-SHACL.ttl")
MAX_MESSAGES = 20  # messages kept per dataset: enough to act on, bounded row size
JOB_TITLE = "communes: vérification DCAT-AP de {}"


@dataclass(frozen=True)
class ShaclResult:
    conforms: bool | None
    violations: int
    messages: list[dict[str, str]]
    # What the MQA reads in the same graph (mqa_facts.py); None when the graph could not be built or read.
    # Not part of the SHACL outcome: two results compare equal on conforms, violations and messages.
    mqa_facts: dict[str, Any] | None = field(default=None, compare=False)


@functools.cache
def shapes_graph() -> rdflib.Graph:
    """The official shapes, parsed once per process, dangling sh:property references dropped
    (a known defect of the 3.0.1 release that makes pyshacl refuse the file)."""
    graph = rdflib.Graph()
    for name in SHAPE_FILES:
        graph.parse(os.path.join(SHACL_DIR, name), format="turtle")
    for shape, _, prop in list(graph.triples((None, SH.property, None))):
        if (prop, SH.path, None) not in graph:
            graph.remove((shape, SH.property, prop))
    return graph


# What makes a focus node's result depend on more than what is reachable from it through outgoing
# statements (incoming statements, queries over the whole graph): with any of these in the shapes, the
# datasets of a batch are validated one by one (validate_batch).
NOT_LOCAL = (SH.inversePath, SH.sparql, SH.select, SH.ask, SH.js, SH.target, SH.rule)


@dataclass(frozen=True)
class _Compiled:
    graph: rdflib.Graph  # what shapes_graph() returned
    shapes: Any  # pyshacl's ShapesGraph of it: its Shape objects, built once
    local: bool  # none of NOT_LOCAL in it


# The shapes as pyshacl reads them, kept for the process (pyshacl.validate builds them again at every call);
# built again when shapes_graph() returns another graph.
_compiled: _Compiled | None = None


def _compiled_shapes() -> _Compiled:
    global _compiled
    from pyshacl.shapes_graph import ShapesGraph

    graph = shapes_graph()
    if _compiled is None or _compiled.graph is not graph:
        _compiled = _Compiled(graph, ShapesGraph(graph), not any((None, term, None) in graph for term in NOT_LOCAL))
    return _compiled


# One ckanext-dcat serializer per thread and profile configuration: building one loads its profiles'
# entry points (a third of a dataset's serialisation); it writes into its graph, hence one per thread.
_serializers = threading.local()


def serializer() -> Any:
    """ckanext-dcat's serializer with the configured profiles (ckanext.dcat.rdf.profiles), built once per
    thread and configuration."""
    from ckanext.dcat.processors import COMPAT_MODE_CONFIG_OPTION, RDF_PROFILES_CONFIG_OPTION, RDFSerializer

    key = (tk.config.get(RDF_PROFILES_CONFIG_OPTION), tk.config.get(COMPAT_MODE_CONFIG_OPTION))
    built = getattr(_serializers, "built", None)
    if built is None or built[0] != key:
        built = _serializers.built = (key, RDFSerializer())
    return built[1]


def dataset_graph(pkg_dict: dict[str, Any]) -> rdflib.Graph:
    """The dataset's RDF with the configured profiles (ckanext.dcat.rdf.profiles), alone in its graph."""
    using = serializer()
    using.g = type(using.g)()  # the serializer writes into its graph: a fresh one for each dataset
    using.graph_from_dataset(pkg_dict)
    return using.g


def validate_graph(data: rdflib.Graph) -> ShaclResult:
    """What pyshacl.validate(data, shacl_graph=shapes_graph(), inference="none", allow_warnings=True)
    reports, with the shapes built once per process."""
    return _result(_validate(data))


def _validate(data: rdflib.Graph) -> rdflib.Graph:
    """pyshacl's report graph. pyshacl.validate's own steps for an rdflib graph, without owl:imports
    (following them would fetch), inference or SHACL-AF, except that the shapes are not built again."""
    from pyshacl import Validator
    from pyshacl.graph_abstraction import DataGraph

    with offline():
        validator = Validator(DataGraph.from_rdflib(data), shacl_graph=shapes_graph(), options={
            "inference": "none", "allow_warnings": True, "abort_on_first": False})
        validator.shacl_graph = _compiled_shapes().shapes
        _, report, _ = validator.run()
    return report


def _violations(report: rdflib.Graph) -> Iterator[rdflib.term.Node]:
    """The report's top-level results of severity sh:Violation (a warning's sh:detail results carry
    sh:Violation of the nested shape: not counted)."""
    for validation in report.subjects(RDF.type, SH.ValidationReport):
        for result in report.objects(validation, SH.result):
            if (result, SH.resultSeverity, SH.Violation) in report:
                yield result


def _result(report: rdflib.Graph) -> ShaclResult:
    messages: list[dict[str, str]] = []
    violations = 0
    for result in _violations(report):
        violations += 1
        if len(messages) < MAX_MESSAGES:
            messages.append({
                "path": str(report.value(result, SH.resultPath) or ""),
                "message": str(report.value(result, SH.resultMessage) or ""),
                "focus": str(report.value(result, SH.focusNode) or ""),
            })
    return ShaclResult(violations == 0, violations, messages)


def _unserialisable(pkg_dict: dict[str, Any], error: Exception) -> ShaclResult:
    # A profile bug must not kill the worker: recorded, shown, retried at the next change.
    log.exception("DCAT serialisation of %s failed", pkg_dict.get("id"))
    return ShaclResult(None, 0, [{"path": "", "message": f"Sérialisation DCAT impossible : {error}", "focus": ""}])


def _facts(graph: rdflib.Graph, pkg_dict: dict[str, Any]) -> dict[str, Any] | None:
    """The graph's MQA facts; None (the MQA says "pending") when reading them fails: the check goes on."""
    try:
        return mqa_facts.facts_from_graph(graph, pkg_dict)
    except Exception:  # noqa: BLE001 - a fact reader bug must not lose the SHACL result
        log.exception("MQA facts of %s could not be read", pkg_dict.get("id"))
        return None


def validate_dataset(pkg_dict: dict[str, Any]) -> ShaclResult:
    """The dataset's check alone, with the MQA facts of the same graph."""
    try:
        graph = dataset_graph(pkg_dict)
    except Exception as error:  # noqa: BLE001
        return _unserialisable(pkg_dict, error)
    result = validate_graph(graph)
    return ShaclResult(result.conforms, result.violations, result.messages, _facts(graph, pkg_dict))


def _nodes(graph: rdflib.Graph) -> set[rdflib.term.Node]:
    """The nodes of a dataset's graph: its subjects and the objects that are not literals."""
    return {node for triple in graph for node in (triple[0], triple[2]) if not isinstance(node, rdflib.Literal)}


def validate_batch(pkg_dicts: list[dict[str, Any]]) -> dict[str, ShaclResult | Exception]:
    """Each dataset's result, equal to :func:`validate_dataset` on it alone, by dataset id (the exception
    instead when its check failed: the others are still checked).

    The graphs are validated together, as one graph. With shapes whose results depend only on what is
    reachable from a focus node through outgoing statements (NOT_LOCAL: the DCAT-AP 3 shapes use class
    targets and predicate paths), a dataset's nodes get in the batch graph the result they get alone when
    the batch graph states about each of them exactly what the dataset's own graph states (no other dataset
    adds a name to a publisher, a type to a concept...); then no violation on its nodes means none alone.
    Every other dataset (a violation on one of its nodes, a node another dataset says more about, a
    violation whose focus node no dataset holds) is validated alone: its messages and count are its own."""
    results: dict[str, ShaclResult | Exception] = {}
    alone = list(pkg_dicts)
    if len(pkg_dicts) > 1 and _compiled_shapes().local:
        graphs: dict[str, rdflib.Graph] = {}
        for pkg_dict in pkg_dicts:
            with contextlib.suppress(Exception):  # not serialisable: validate_dataset records it, alone
                graphs[pkg_dict["id"]] = dataset_graph(pkg_dict)
        try:
            trusted = _conforming_in_batch(graphs)
        except Exception:  # noqa: BLE001 - each dataset alone then, as before the batches
            log.exception("SHACL check of a batch of %d datasets failed: each checked alone", len(graphs))
            trusted = set()
        by_id = {pkg_dict["id"]: pkg_dict for pkg_dict in pkg_dicts}
        results.update((package_id, ShaclResult(True, 0, [], _facts(graphs[package_id], by_id[package_id])))
                       for package_id in trusted)
        alone = [pkg_dict for pkg_dict in pkg_dicts if pkg_dict["id"] not in trusted]
    for pkg_dict in alone:
        try:
            results[pkg_dict["id"]] = validate_dataset(pkg_dict)
        except Exception as error:  # noqa: BLE001 - the caller logs it with the dataset; the others go on
            results[pkg_dict["id"]] = error
    return results


class _NotCanonical(Exception):
    pass


def _canonical(graph: rdflib.Graph) -> rdflib.Graph:
    """The graph with each blank node named after what it states (its statements, those of the blank
    nodes it points to), so that two datasets describing a node the same way (the publisher's identifier
    ``[ skos:notation "216900290" ]``) describe the same node, as two datasets naming the same publisher
    IRI do. An isomorphic copy: _NotCanonical when two blank nodes of the graph would get one name (they
    state the same things: counting them would change) or when blank nodes form a cycle."""
    import hashlib

    stated: dict[rdflib.BNode, list[tuple[rdflib.term.Node, rdflib.term.Node]]] = {}
    for subject, predicate, obj in graph:
        if isinstance(subject, rdflib.BNode):
            stated.setdefault(subject, []).append((predicate, obj))
    names: dict[rdflib.BNode, rdflib.BNode] = {}

    def name(node: rdflib.BNode, path: tuple[rdflib.BNode, ...] = ()) -> rdflib.BNode:
        if node in names:
            return names[node]
        if node in path:
            raise _NotCanonical("cycle")
        lines = sorted(
            f"{predicate.n3()} {(name(obj, (*path, node)) if isinstance(obj, rdflib.BNode) else obj).n3()}"
            for predicate, obj in stated.get(node, []))
        names[node] = rdflib.BNode("c" + hashlib.sha1("\n".join(lines).encode()).hexdigest())
        return names[node]

    def renamed(node: rdflib.term.Node) -> rdflib.term.Node:
        return name(node) if isinstance(node, rdflib.BNode) else node

    canonical = rdflib.Graph()
    for subject, predicate, obj in graph:
        canonical.add((renamed(subject), predicate, renamed(obj)))
    if len(set(names.values())) != len(names):
        raise _NotCanonical("two blank nodes state the same things")
    return canonical


def _conforming_in_batch(graphs: dict[str, rdflib.Graph]) -> set[str]:
    """The datasets whose graph conforms alone, as the batch graph shows (see validate_batch)."""
    canonical: dict[str, rdflib.Graph] = {}
    for package_id, graph in graphs.items():
        with contextlib.suppress(_NotCanonical):  # checked alone
            canonical[package_id] = _canonical(graph)
    graphs = canonical
    batch = rdflib.Graph()
    for graph in graphs.values():
        batch += graph
    report = _validate(batch)
    violated = {report.value(result, SH.focusNode) for result in _violations(report)}
    nodes = {package_id: _nodes(graph) for package_id, graph in graphs.items()}
    if not violated <= set().union(*nodes.values()):
        return set()
    said_in_batch = Counter(subject for subject, _, _ in batch)
    conforming = set()
    for package_id, graph in graphs.items():
        said_alone = Counter(subject for subject, _, _ in graph)
        if not nodes[package_id] & violated and all(
                said_in_batch[node] == said_alone[node] for node in nodes[package_id]):
            conforming.add(package_id)
    return conforming


def check_dataset(package_id: str) -> ShaclResult | None:
    """The background job (also callable synchronously): validate, store, refresh the score when
    the outcome changed. None when the dataset is gone."""
    try:
        pkg_dict = tk.get_action("package_show")({"ignore_auth": True, "use_cache": False}, {"id": package_id})
    except tk.ObjectNotFound:
        return None
    result = validate_dataset(pkg_dict)
    changed = store_result(pkg_dict["id"], result)
    model.Session.commit()
    if changed:
        evidence.refresh(pkg_dict["id"])
    return result


def refresh_mqa_facts(pkg_dict: dict[str, Any]) -> None:
    """Read the MQA facts again from a fresh graph of the dataset, after its links were checked (not
    committed): the profile writes what the link checker measured (byte size, media type, whether a link is
    a file), which the graph validated while the links were being checked did not know yet."""
    row = model.Session.get(ShaclCheck, pkg_dict["id"])
    if row is None:
        return
    try:
        graph = dataset_graph(pkg_dict)
    except Exception:  # noqa: BLE001 - the facts of the SHACL check's graph stay
        log.exception("MQA facts of %s could not be read again", pkg_dict.get("id"))
        return
    facts = _facts(graph, pkg_dict)
    if facts is not None:
        row.mqa_facts = facts


def store_result(package_id: str, result: ShaclResult, now: datetime.datetime | None = None) -> bool:
    """Replace the dataset's row (not committed); True when what the score reads changed."""
    row = model.Session.get(ShaclCheck, package_id)
    changed = row is None or row.conforms != result.conforms or row.violations != result.violations
    if row is None:
        row = ShaclCheck(package_id=package_id)
        model.Session.add(row)
    row.conforms = result.conforms
    row.violations = result.violations
    row.messages = result.messages
    row.mqa_facts = result.mqa_facts
    row.checked_at = now or datetime.datetime.utcnow()
    return changed


def enqueue_dataset(package_id: str) -> int:
    """Schedule the check of one dataset on CKAN's job queue; returns the number of jobs (1)."""
    tk.enqueue_job(check_dataset, [package_id], title=JOB_TITLE.format(package_id))
    return 1
