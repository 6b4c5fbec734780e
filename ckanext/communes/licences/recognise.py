"""What a harvested licence value becomes: ``recognise_licence(value, convention)``.

The normaliser first (with the source type's convention), then the operators' aliases (aliases.py) for a
value it does not know. The normaliser consults the aliases itself once the normaliser rewrite (issue #22
part A) is in; the second look-up here is then a no-op, and it keeps the aliases working for the harvests and
``renormalise`` until then. ``stored_licence_id`` is the rule that no raw text is ever a licence id: a value
that designates no registry licence is stored as the « licence non reconnue » entry.
"""

from __future__ import annotations

from typing import cast

from ckanext.communes.licences.aliases import operator_aliases
from ckanext.communes.licences.normalise import LicenceMatch, MatchedBy, normalize_licence, text_key
from ckanext.communes.licences.registry import UNRECOGNISED_ID, get_licence

# Source types (our harvesters' ``source_type`` without the "communes_" prefix) whose conventions the
# normaliser knows.
CONVENTIONS = ("ods", "udata", "ckan", "dcat", "csw")
OPERATOR_ALIAS = cast(MatchedBy, "operator_alias")


def convention_of(source_type: str | None) -> str | None:
    """The normaliser's convention of a harvest source type ("communes_ods" -> "ods"); None if it has none."""
    name = (source_type or "").removeprefix("communes_")
    return name if name in CONVENTIONS else None


def recognise_licence(value: str | None, convention: str | None = None) -> LicenceMatch:
    match = normalize_licence(value, convention=convention)
    if match.licence is not None or not isinstance(value, str) or not value.strip():
        return match
    licence = get_licence(operator_aliases().get(text_key(value.strip())))
    return LicenceMatch(licence, OPERATOR_ALIAS, match.original) if licence is not None else match


def stored_licence_id(value: str | None, convention: str | None = None) -> tuple[str | None, str | None]:
    """(licence id to store, the source's text when it designates no licence): (None, None) for no value;
    (registry id, None) when recognised; (UNRECOGNISED_ID, text) otherwise."""
    if not isinstance(value, str) or not value.strip():
        return None, None
    match = recognise_licence(value, convention)
    if match.licence is not None:
        return match.licence.id, None
    return UNRECOGNISED_ID, value.strip()
