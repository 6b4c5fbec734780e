"""What a harvested licence value becomes: ``recognise_licence(value, convention)``.

The normaliser does the recognising (operators' aliases first, then the source type's convention, the
registry and the reading of the name). ``stored_licence_id`` is the rule that no raw text is ever a licence id: a value
that designates no registry licence is stored as the « licence non reconnue » entry.
"""

from __future__ import annotations

from ckanext.communes.licences.normalise import CONVENTIONS, LicenceMatch, normalize_licence
from ckanext.communes.licences.registry import UNRECOGNISED_ID


def convention_of(source_type: str | None) -> str | None:
    """The normaliser's convention of a harvest source type ("communes_ods" -> "ods"); None if it has none."""
    name = (source_type or "").removeprefix("communes_")
    return name if name in CONVENTIONS else None


def recognise_licence(value: str | None, convention: str | None = None) -> LicenceMatch:
    return normalize_licence(value, convention=convention)


def stored_licence_id(value: str | None, convention: str | None = None) -> tuple[str | None, str | None]:
    """(licence id to store, the source's text when it designates no licence): (None, None) for no value;
    (registry id, None) when recognised; (UNRECOGNISED_ID, text) otherwise."""
    if not isinstance(value, str) or not value.strip():
        return None, None
    match = recognise_licence(value, convention)
    if match.licence is not None:
        return match.licence.id, None
    return UNRECOGNISED_ID, value.strip()
