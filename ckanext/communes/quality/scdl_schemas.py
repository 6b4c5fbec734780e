"""The SCDL schemas we ship (``data/scdl/``, one folder per schema of schema.data.gouv.fr) and which one
a resource declares: read by the SCDL validation (scdl.py), the score's ``scdl`` criterion (score.py) and
the bilan's index fields.

Which schema: the ``conforms_to`` of the resource, else the dataset's; the first value naming a schema
we ship (``vocabularies/data/scdl-schema.csv`` code or URI, or a versioned URL of schema.data.gouv.fr).
Only a CSV resource is validated."""

from __future__ import annotations

import csv
import functools
import json
import os
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

DATA_DIR = os.path.join(os.path.dirname(__file__), "data")
SCHEMA_DIR = os.path.join(DATA_DIR, "scdl")
SCHEMA_SITE_HOST = "schema.data.gouv.fr"
CSV_FILE_TYPE = "CSV"


@dataclass(frozen=True)
class ShippedSchema:
    code: str  # scdl-schema vocabulary code, e.g. "scdl/subventions"
    uri: str  # the vocabulary URI, stored as schema_url
    label: str
    path: str


def _folder(code: str) -> str:
    return os.path.join(SCHEMA_DIR, code.replace("/", "__"))


@functools.cache
def _shipped() -> tuple[ShippedSchema, ...]:
    from ckanext.communes.vocabularies import get_vocabulary

    schemas = []
    for term in get_vocabulary("scdl-schema").terms:
        path = os.path.join(_folder(term.code), "schema.json")
        if os.path.exists(path):  # BAL and the JSON Schemas are not shipped: see data/scdl/SOURCES.txt
            schemas.append(ShippedSchema(code=term.code, uri=term.uri, label=term.label("fr"), path=path))
    return tuple(schemas)


def shipped_schema(value: str | None) -> ShippedSchema | None:
    """The shipped schema a conforms_to value names: a vocabulary URI, code or label, or a URL of
    schema.data.gouv.fr that carries the code in its path (``/schemas/scdl/subventions/2.1.1/schema.json``,
    ``/scdl/subventions/latest.html``). We validate against the version we ship whatever the URL says."""
    if not value or not value.strip():
        return None
    from ckanext.communes.vocabularies import get_vocabulary

    term = get_vocabulary("scdl-schema").lookup(value)
    codes = {s.code: s for s in _shipped()}
    if term is not None:
        return codes.get(term.code)
    parts = urlsplit(value.strip())
    if parts.hostname != SCHEMA_SITE_HOST:
        return None
    segments = [s for s in parts.path.split("/") if s]
    if segments and segments[0] == "schemas":
        segments = segments[1:]
    return codes.get("/".join(segments[:2])) if len(segments) >= 2 else None


@functools.cache
def schema_descriptor(code: str) -> str:
    # Kept as text: each validation builds its own Schema (frictionless objects are mutable).
    with open(os.path.join(_folder(code), "schema.json"), encoding="utf-8") as f:
        return f.read()


@functools.cache
def error_labels() -> dict[str, str]:
    """French label of each frictionless error type (data/scdl-error-types.csv)."""
    with open(os.path.join(DATA_DIR, "scdl-error-types.csv"), encoding="utf-8", newline="") as f:
        return {row["type"]: row["label_fr"] for row in csv.DictReader(f)}


def error_label(error_type: str) -> str:
    return error_labels().get(error_type, error_type)


def _values(value: Any) -> list[str]:
    """conforms_to as stored: a list, a JSON list in a string (scheming), or one string."""
    if value is None or value == "":
        return []
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            try:
                value = json.loads(text)
            except ValueError:
                return [text]
        else:
            return [text]
    if isinstance(value, (list, tuple)):
        return [str(v).strip() for v in value if v and str(v).strip()]
    return []


def declared_schema(resource: dict[str, Any], pkg_dict: dict[str, Any]) -> ShippedSchema | None:
    """The shipped schema the resource declares, else the dataset's. A resource that declares schemas of
    its own is judged by those only (a dataset of subventions may carry a PDF following another schema)."""
    own = _values(resource.get("conforms_to"))
    for value in own or _values(pkg_dict.get("conforms_to")):
        schema = shipped_schema(value)
        if schema is not None:
            return schema
    return None


def is_csv(resource: dict[str, Any]) -> bool:
    from ckanext.communes.vocabularies import get_vocabulary, guess_file_type

    fmt = (resource.get("format") or "").strip()
    term = get_vocabulary("file-type").lookup(fmt) if fmt else None
    if term is None and not fmt:
        term = guess_file_type(resource.get("url"), resource.get("mimetype"))
    return term is not None and term.code == CSV_FILE_TYPE


def to_validate(pkg_dict: dict[str, Any]) -> Iterable[tuple[dict[str, Any], ShippedSchema]]:
    """The dataset's resources the SCDL validation concerns (a CSV with a link or a file and a shipped
    schema), each with its schema."""
    for resource in pkg_dict.get("resources") or []:
        schema = declared_schema(resource, pkg_dict)
        if schema is not None and resource.get("url") and is_csv(resource):
            yield resource, schema
