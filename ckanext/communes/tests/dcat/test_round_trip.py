"""Our RDF parsed back with ckanext-dcat's parser and the same profiles gives the stored values,
field by field, for a dataset with every DCAT field filled in."""

from __future__ import annotations

from typing import Any

import pytest

from ckanext.communes.tests.dcat.conftest import PROFILES, create_dataset, full_fields
from ckanext.dcat.processors import RDFParser

pytestmark = pytest.mark.usefixtures("clean_db", "clean_index")

DATASET_FIELDS = (
    "title", "notes", "url", "version", "issued", "modified", "license_id", "frequency", "access_rights",
)
LIST_FIELDS = ("theme", "language", "conforms_to")
RESOURCE_FIELDS = (
    "name", "description", "format", "mimetype", "license", "availability", "status", "size",
    "issued", "modified",
)
RESOURCE_LIST_FIELDS = ("conforms_to", "language")
AGENT_KEYS = ("uri", "name", "identifier", "type", "url", "email")


def parse_back(app: Any, dataset_id: str, fmt: str) -> dict[str, Any]:
    body = app.get(f"/dataset/{dataset_id}.{fmt}", status=200).body
    parser = RDFParser(profiles=PROFILES.split())
    parser.parse(body, _format=fmt)
    parsed = list(parser.datasets())
    assert len(parsed) == 1
    return parsed[0]


def non_empty(agent: dict[str, Any]) -> dict[str, Any]:
    return {key: agent[key] for key in AGENT_KEYS if agent.get(key)}


@pytest.fixture
def stored(sysadmin, bron) -> dict[str, Any]:
    return create_dataset(sysadmin, **full_fields(bron))


@pytest.mark.parametrize("fmt", ["ttl", "rdf", "jsonld"])
def test_dataset_fields_survive_a_round_trip(app, stored, fmt):
    parsed = parse_back(app, stored["id"], fmt)
    for field in DATASET_FIELDS:
        assert parsed.get(field) == stored[field], field
    for field in LIST_FIELDS:
        assert sorted(parsed.get(field) or []) == sorted(stored[field]), field
    assert sorted(t["name"] for t in parsed["tags"]) == sorted(t["name"] for t in stored["tags"])
    assert [non_empty(a) for a in parsed["publisher"]] == [non_empty(a) for a in stored["publisher"]]
    assert [non_empty(c) for c in parsed["contact"]] == [non_empty(c) for c in stored["contact"]]
    assert [{"uri": s.get("uri"), "text": s.get("text")} for s in parsed["spatial_coverage"]] == [
        {"uri": s.get("uri"), "text": s.get("text")} for s in stored["spatial_coverage"]
    ]
    assert parsed["temporal_coverage"] == stored["temporal_coverage"]


@pytest.mark.parametrize("fmt", ["ttl", "rdf", "jsonld"])
def test_resource_fields_survive_a_round_trip(app, stored, fmt):
    parsed = {r["url"]: r for r in parse_back(app, stored["id"], fmt)["resources"]}
    assert set(parsed) == {r["url"] for r in stored["resources"]}
    for resource in stored["resources"]:
        back = parsed[resource["url"]]
        for field in RESOURCE_FIELDS:
            # Stored values only: issued/modified written from created/metadata_modified when empty.
            if field in resource and resource[field] not in (None, ""):
                assert back.get(field) == resource[field], (resource["name"], field)
        for field in RESOURCE_LIST_FIELDS:
            assert sorted(back.get(field) or []) == sorted(resource.get(field) or []), (resource["name"], field)
        # A resource without licence inherits the dataset's: written on the distribution for
        # DCAT-AP 3, parsed back as inherited (no resource licence).
        assert back.get("license") == resource.get("license"), resource["name"]
