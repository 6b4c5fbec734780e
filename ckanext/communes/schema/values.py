"""How multi-valued fields of our schema are read, wherever they are read (validators, index, RDF)."""

from __future__ import annotations

import json
from typing import Any

from ckan.lib.navl.dictization_functions import missing


def is_blank(value: Any) -> bool:
    return value is missing or value is None or (isinstance(value, str) and not value.strip()) or value == []


def as_list(value: Any) -> list[str]:
    """A multi-valued field as a list of non-blank strings, whichever way it arrives: a list (API,
    repeated form inputs), a JSON list string (as scheming stores it in the extras, and as
    ckanext-dcat's multiple_text gives it) or one plain string."""
    if is_blank(value):
        return []
    if isinstance(value, str):
        text = value.strip()
        if not text.startswith("["):
            return [text]
        try:
            value = json.loads(text)
        except (ValueError, RecursionError):  # "[[[[…" nested beyond the parser's depth
            return [text]
    if not isinstance(value, (list, tuple)):
        return [str(value)]
    return [str(item).strip() for item in value if not is_blank(item)]
