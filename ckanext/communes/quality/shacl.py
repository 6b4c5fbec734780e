"""Per-dataset DCAT-AP 3.0.1 SHACL check, in the background.

The dataset's RDF is what ``/dataset/{id}.ttl`` serves (ckanext-dcat's ``RDFSerializer`` with the
configured profiles, ours included); it is validated against the official shapes shipped in
``data/shacl/`` (see SOURCES.txt). The result (conforms, number of sh:Violation, first messages) is
kept in ``communes_shacl_check`` (models.py: one row per dataset, replaced by each check); the quality
score reads it (evidence.py). Only violations count: warnings and infos of the shapes are advice.

The data graph is validated as a consumer receives it: NAL membership as the graph states it (our
profile states each concept's scheme). The tests also check NAL membership against the official EU
files (tests/dcat), which the package does not ship.

Nothing is fetched: the shapes are the shipped files, the data graph is built in memory, pyshacl is told
not to follow ``owl:imports`` (it never does for the data graph; for the shapes it would, through rdflib,
outside the guarded client) and it runs inside ``net.offline.offline`` (no connection from the thread).
"""

from __future__ import annotations

import datetime
import functools
import logging
import os
from dataclasses import dataclass
from typing import Any

import ckan.plugins.toolkit as tk
import rdflib
from ckan import model
from rdflib.namespace import RDF, SH

from ckanext.communes.net.offline import offline
from ckanext.communes.quality import evidence
from ckanext.communes.quality.models import ShaclCheck

log = logging.getLogger(__name__)

SHACL_DIR = os.path.join(os.path.dirname(__file__), "data", "shacl")
SHAPE_FILES = ("dcat-ap-3.0.1-SHACL.ttl", "dcat-ap-3.0.1-mdr-vocabularies.shape.ttl")
MAX_MESSAGES = 20  # messages kept per dataset: enough to act on, bounded row size
JOB_TITLE = "communes: vérification DCAT-AP de {}"


@dataclass(frozen=True)
class ShaclResult:
    conforms: bool | None
    violations: int
    messages: list[dict[str, str]]


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


def dataset_graph(pkg_dict: dict[str, Any]) -> rdflib.Graph:
    """The dataset's RDF with the configured profiles (ckanext.dcat.rdf.profiles)."""
    from ckanext.dcat.processors import RDFSerializer

    serializer = RDFSerializer()
    serializer.graph_from_dataset(pkg_dict)
    return serializer.g


def validate_graph(data: rdflib.Graph) -> ShaclResult:
    import pyshacl

    with offline():
        _, report, _ = pyshacl.validate(
            data, shacl_graph=shapes_graph(), inference="none", allow_warnings=True, abort_on_first=False,
            do_owl_imports=False,  # the default today; said here because following them would fetch
        )
    messages: list[dict[str, str]] = []
    violations = 0
    # Top-level results only: a warning's sh:detail results carry sh:Violation of the nested shape.
    for validation in report.subjects(RDF.type, SH.ValidationReport):
        for result in report.objects(validation, SH.result):
            if (result, SH.resultSeverity, SH.Violation) not in report:
                continue
            violations += 1
            if len(messages) < MAX_MESSAGES:
                messages.append({
                    "path": str(report.value(result, SH.resultPath) or ""),
                    "message": str(report.value(result, SH.resultMessage) or ""),
                    "focus": str(report.value(result, SH.focusNode) or ""),
                })
    return ShaclResult(violations == 0, violations, messages)


def validate_dataset(pkg_dict: dict[str, Any]) -> ShaclResult:
    try:
        graph = dataset_graph(pkg_dict)
    except Exception as error:  # a profile bug must not kill the worker: recorded, shown, retried next change
        log.exception("DCAT serialisation of %s failed", pkg_dict.get("id"))
        return ShaclResult(None, 0, [{"path": "", "message": f"Sérialisation DCAT impossible : {error}", "focus": ""}])
    return validate_graph(graph)


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
    row.checked_at = now or datetime.datetime.utcnow()
    return changed


def enqueue_dataset(package_id: str) -> int:
    """Schedule the check of one dataset on CKAN's job queue; returns the number of jobs (1)."""
    tk.enqueue_job(check_dataset, [package_id], title=JOB_TITLE.format(package_id))
    return 1
