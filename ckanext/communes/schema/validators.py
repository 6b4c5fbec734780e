"""Validators of the dataset schema (usable by name in scheming YAML).

Vocabulary values are stored as URIs (what ckanext-dcat's euro_dcat_ap_3 profile serialises);
input may be a URI, a code or a label, so API callers and harvesters can send "ENVI" or "CSV".
Owner-derived fields (publisher, default spatial coverage and contact) are set server-side so API
callers get the same defaults as the form.
"""

from __future__ import annotations

import calendar
import datetime
import json
import re
import urllib.parse
from collections.abc import Callable
from typing import Any

import ckan.plugins.toolkit as tk
from ckan.lib.navl.dictization_functions import StopOnError, missing

from ckanext.communes import geo
from ckanext.communes.communes.registry import metropole_bbox
from ckanext.communes.licences.policy import is_harvest
from ckanext.communes.schema import owner
from ckanext.communes.schema.values import as_list, is_blank
from ckanext.communes.vocabularies import Term, format_code, get_vocabulary, guess_file_type, resolve_file_type
from ckanext.scheming.helpers import scheming_field_required
from ckanext.scheming.validation import scheming_validator

Key = tuple[Any, ...]
FlatData = dict[Key, Any]
Validator = Callable[[Key, FlatData, dict[Key, list[str]], Any], Any]


# Longest submitted value echoed back in an error message (a caller may send megabytes).
MAX_ECHOED_CHARS = 120


def shorten(value: Any) -> str:
    text = str(value)
    return text if len(text) <= MAX_ECHOED_CHARS else text[:MAX_ECHOED_CHARS] + "…"


def _unknown_term_message(vocabulary: str, value: str) -> str:
    """French-translatable message naming what was unknown, per vocabulary."""
    messages = {
        "data-theme": tk._("Unknown theme: {value}. Pick a theme of the EU data-theme vocabulary."),
        "frequency": tk._("Unknown update frequency: {value}. Pick a frequency of the EU frequency vocabulary."),
        "file-type": tk._("Unknown file format: {value}. Use a format of the EU file-type vocabulary "
                          "(e.g. CSV, JSON, GeoJSON)."),
        "access-right": tk._("Unknown access right: {value}. Use PUBLIC, RESTRICTED or NON_PUBLIC."),
        "language": tk._("Unknown language: {value}. Use a language of the EU language vocabulary (e.g. FRA)."),
        "scdl-schema": tk._("Unknown schema: {value}. Pick a SCDL schema or give the URI of another schema."),
        "hvd-category": tk._("Unknown high-value dataset category: {value}. Pick a category of the EU list of "
                             "high-value datasets (regulation 2023/138), or none."),
    }
    message = messages.get(vocabulary) or tk._("Unknown value: {value}.")
    return message.format(value=shorten(value))


def _required_message(vocabulary: str) -> str:
    if vocabulary == "data-theme":
        return tk._("Pick at least one theme.")
    return tk._("Missing value")


def _is_uri(value: str) -> bool:
    return bool(re.match(r"^https?://[^\s/]+\.[^\s]+$", value.strip()))


def _lookup(vocabulary: str, value: str) -> Term | None:
    return get_vocabulary(vocabulary).lookup(value)


def _stop_ignoring(key: Key, data: FlatData) -> None:
    """Like ignore_missing: drop the key and stop the chain (nothing stored)."""
    data.pop(key, None)
    raise StopOnError


@scheming_validator
def communes_vocabulary_uri(field: dict[str, Any], schema: dict[str, Any]) -> Validator:
    """One term of the vocabulary named by ``field["vocabulary"]``, stored as its URI.

    Accepts URI, code or label; an empty value takes ``field["default"]`` (a URI, also the form's
    preselected choice) or fails when the field is required."""
    vocabulary: str = field["vocabulary"]
    default: str | None = field.get("default")
    required = scheming_field_required(field)

    def validator(key: Key, data: FlatData, errors: dict[Key, list[str]], context: Any) -> None:
        values = as_list(data.get(key, missing))
        if not values:
            if default:
                data[key] = default
                return
            if required:
                errors[key].append(_required_message(vocabulary))
                raise StopOnError
            _stop_ignoring(key, data)
        if len(values) > 1:
            errors[key].append(tk._("Only one value is allowed."))
            raise StopOnError
        term = _lookup(vocabulary, values[0])
        if term is None:
            errors[key].append(_unknown_term_message(vocabulary, values[0]))
            raise StopOnError
        data[key] = term.uri

    return validator


@scheming_validator
def communes_vocabulary_list(field: dict[str, Any], schema: dict[str, Any]) -> Validator:
    """Terms of the vocabulary ``field["vocabulary"]``, stored as a JSON list of URIs (ckanext-dcat's
    format for theme, language, conforms_to). ``field["default"]``: URIs used when empty;
    ``field["allow_free_uri"]``: an http(s) URI outside the vocabulary is accepted as is."""
    vocabulary: str = field["vocabulary"]
    default = field.get("default")
    defaults: list[str] = [default] if isinstance(default, str) else list(default or [])
    allow_free_uri = bool(field.get("allow_free_uri"))
    required = scheming_field_required(field)

    def validator(key: Key, data: FlatData, errors: dict[Key, list[str]], context: Any) -> None:
        values = as_list(data.get(key, missing))
        if not values:
            if defaults:
                data[key] = json.dumps(defaults)
                return
            # A harvested dataset whose themes map to no EU theme keeps them in harvest_unmapped: it is
            # saved without theme (the quality score says so) rather than lost or given an invented one.
            if required and not is_harvest(context):
                errors[key].append(_required_message(vocabulary))
                raise StopOnError
            _stop_ignoring(key, data)
        uris: list[str] = []
        for value in values:
            term = _lookup(vocabulary, value)
            if term is not None:
                uri = term.uri
            elif allow_free_uri and _is_uri(value):
                uri = value.strip()
            else:
                errors[key].append(_unknown_term_message(vocabulary, value))
                continue
            if uri not in uris:
                uris.append(uri)
        if errors[key]:
            raise StopOnError
        data[key] = json.dumps(uris)

    return validator


# ISO 8601 forms ckanext-dcat serialises: year, year-month, date, date-time (with optional zone).
_DATE_RE = re.compile(r"^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?$")
_DATETIME_RE = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?$")


def parse_iso_datetime(text: str) -> datetime.datetime:
    """datetime.fromisoformat, also for the forms Python 3.10's refuses and sources write: a "Z"
    zone, a zone without colon (+0100), a space instead of "T". Raises ValueError."""
    text = text.strip().replace(" ", "T", 1)
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    zone = re.search(r"([+-])(\d{2})(\d{2})$", text)
    if zone and "T" in text:
        text = text[: zone.start()] + f"{zone.group(1)}{zone.group(2)}:{zone.group(3)}"
    return datetime.datetime.fromisoformat(text)


def parse_date_bounds(value: Any) -> tuple[datetime.datetime, datetime.datetime] | None:
    """(first instant, last instant) of a date value: "2024" spans the whole year. None if invalid,
    including impossible calendar dates such as 2024-02-30."""
    if isinstance(value, datetime.datetime):
        naive = value.replace(tzinfo=None)
        return naive, naive
    if isinstance(value, datetime.date):
        start = datetime.datetime.combine(value, datetime.time.min)
        return start, datetime.datetime.combine(value, datetime.time.max)
    if not isinstance(value, str):
        return None
    text = value.strip()
    match = _DATE_RE.match(text)
    try:
        if match:
            year = int(match.group(1))
            month = int(match.group(2)) if match.group(2) else None
            day = int(match.group(3)) if match.group(3) else None
            if month is None:
                return datetime.datetime(year, 1, 1), datetime.datetime(year, 12, 31, 23, 59, 59)
            if day is None:
                last = calendar.monthrange(year, month)[1] if 1 <= month <= 12 else 0
                return datetime.datetime(year, month, 1), datetime.datetime(year, month, last, 23, 59, 59)
            start = datetime.datetime(year, month, day)
            return start, start.replace(hour=23, minute=59, second=59)
        if _DATETIME_RE.match(text):
            moment = parse_iso_datetime(text).replace(tzinfo=None)
            return moment, moment
    except ValueError:  # month 13, day 30 of February...
        return None
    return None


def communes_date(key: Key, data: FlatData, errors: dict[Key, list[str]], context: Any) -> None:
    """An ISO date (YYYY, YYYY-MM, YYYY-MM-DD or date-time) that exists in the calendar.

    Stricter than ckanext-dcat's dcat_date, which accepts 2024-02-30 by regular expression."""
    value = data.get(key, missing)
    if is_blank(value):
        _stop_ignoring(key, data)
    if parse_date_bounds(value) is None:
        errors[key].append(
            tk._("Invalid date: {value}. Use YYYY, YYYY-MM or YYYY-MM-DD, with a day that exists.").format(
                value=shorten(value))
        )
        raise StopOnError
    if isinstance(value, str):
        data[key] = value.strip()


def communes_resource_url(key: Key, data: FlatData, errors: dict[Key, list[str]], context: Any) -> None:
    """A distribution needs its access or download URL (DCAT-AP mandatory dcat:accessURL)."""
    value = data.get(key, missing)
    if is_blank(value):
        errors[key].append(tk._("A resource needs an access or download URL."))
        raise StopOnError
    text = str(value).strip()
    try:
        # Everything downstream (format guess, RDF, link checks) splits the URL: a malformed one such
        # as "http://[x/a.csv" (an unclosed IPv6 bracket) is refused here, not a server error later.
        parts = urllib.parse.urlsplit(text)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        errors[key].append(tk._("Invalid URL: {url}.").format(url=shorten(text)))
        raise StopOnError from None
    data[key] = text


def communes_guess_media_type(key: Key, data: FlatData, errors: dict[Key, list[str]], context: Any) -> None:
    """CKAN's if_empty_guess_format, which raises on a malformed URL ("mimetype" is validated before
    "url"): the guess is skipped, and communes_resource_url reports the URL as a field error."""
    from ckan.logic.validators import if_empty_guess_format

    try:
        if_empty_guess_format(key, data, errors, context)
    except ValueError:
        return


def communes_resource_format(key: Key, data: FlatData, errors: dict[Key, list[str]], context: Any) -> None:
    """The EU file type of a resource, stored as its short code (``CSV``, ``GeoJSON``, ``WFS``: the code CKAN
    clients, views and loaders expect, vocabularies.format_code); guessed from the URL or the media type when
    empty. Whatever spelling is typed is understood (code in any case, EU URI, media type, extension, CKAN's
    name of the format: vocabularies.resolve_file_type); a format outside the EU list is refused."""
    resource = key[:-1]
    value = data.get(key, missing)
    if is_blank(value):
        url = data.get(resource + ("url",))
        media_type = data.get(resource + ("mimetype",))
        term = guess_file_type(
            url=url if isinstance(url, str) else None,
            media_type=media_type if isinstance(media_type, str) else None,
        )
        data[key] = format_code(term) if term else ""
        return
    text = str(value).strip()
    term = resolve_file_type(text)
    if term is None:
        errors[key].append(_unknown_term_message("file-type", text))
        raise StopOnError
    data[key] = format_code(term)


def communes_spatial_extent(value: Any, context: Any) -> Any:
    """ckanext-spatial's ``spatial`` field: a narrower extent than the commune, as GeoJSON text (or object)
    in WGS84, valid (no self-intersection) and in or near the Métropole. Stored as compact GeoJSON with its
    rings closed (ckanext-spatial re-reads it after each save and refuses, in English, a ring left open)."""
    if is_blank(value):
        return ""
    import shapely.geometry

    field = tk._("Extent (GeoJSON)")
    if isinstance(value, str) and not value.strip().startswith("{"):  # WKT is for the harvested coverage only
        raise tk.Invalid(geo.problem_message(geo.GeometryProblem("json"), field))
    if not isinstance(value, (str, dict)):
        raise tk.Invalid(geo.problem_message(geo.GeometryProblem("type"), field))
    try:
        geo.extent_bbox(value, metropole_bbox())
        shape = geo.read_extent(value)
    except geo.GeometryProblem as problem:
        raise tk.Invalid(geo.problem_message(problem, field)) from None
    return json.dumps(shapely.geometry.mapping(shape), separators=(",", ":"))


# --- dataset-level validators (scheming `after_validators`) -----------------------------------------

OWNER_DEFAULTED_FIELDS = ("spatial_coverage", "contact")
CLEANED_REPEATING_FIELDS = ("spatial_coverage", "contact", "temporal_coverage")


def _entries(data: FlatData, field_name: str) -> dict[int, dict[str, Any]]:
    """Repeating-subfield entries of a field in flattened data: {index: {subfield: value}}."""
    entries: dict[int, dict[str, Any]] = {}
    for key, value in data.items():
        if len(key) == 3 and key[0] == field_name and isinstance(key[1], int):
            entries.setdefault(key[1], {})[key[2]] = value
    return entries


def _drop_blank_entries(data: FlatData, field_name: str) -> dict[int, dict[str, Any]]:
    """Remove entries whose subfields are all empty (the blank panel the form always submits)."""
    entries = _entries(data, field_name)
    for index, entry in list(entries.items()):
        if all(is_blank(value) for value in entry.values()):
            for subfield in entry:
                data.pop((field_name, index, subfield), None)
            del entries[index]
    return entries


def _set_entries(data: FlatData, field_name: str, entries: list[dict[str, str]]) -> None:
    for key in [k for k in data if k and k[0] == field_name]:
        del data[key]
    for index, entry in enumerate(entries):
        for subfield, value in entry.items():
            data[(field_name, index, subfield)] = value


def _submitted_publisher(data: FlatData) -> dict[str, str]:
    """The publisher a caller sent: subfields of the first entry, or a JSON/dict value left unflattened."""
    entries = _entries(data, "publisher")
    if entries:
        entry = entries[min(entries)]
    else:
        raw = data.get(("publisher",))
        if isinstance(raw, str) and raw.strip().startswith(("[", "{")):
            try:
                raw = json.loads(raw)
            except ValueError:
                raw = {}
        if isinstance(raw, list):
            raw = raw[0] if raw else {}
        entry = raw if isinstance(raw, dict) else {}
    return {k: str(v).strip() for k, v in entry.items() if isinstance(v, str) and v.strip()}


def _names_another_organisation(
    submitted: dict[str, str], derived: dict[str, str], profile: owner.OwnerProfile | None
) -> bool:
    """Whether a submitted publisher designates an organisation other than the owner. The SIREN
    decides when both sides have one; then the URI; then the name (owner's title, official name or
    slug, case-insensitive). Re-sending the derived publisher (package_show output) is fine."""
    if not submitted:
        return False
    if profile is None:
        return True  # nothing to derive from: a hand-typed publisher cannot be checked
    identifier = submitted.get("identifier", "").replace(" ", "")
    if identifier and profile.siren:
        return identifier != profile.siren
    if submitted.get("uri") and submitted["uri"].rstrip("/") == derived.get("uri", "").rstrip("/"):
        return False
    if submitted.get("name"):
        own_names = {n.casefold() for n in (derived.get("name"), profile.title, profile.name) if n}
        return submitted["name"].casefold() not in own_names
    return bool(submitted.get("uri"))


def communes_owner_derived_fields(
    key: Key, data: FlatData, errors: dict[Key, list[str]], context: Any
) -> None:
    """Publisher from the owner organisation (never typed by hand), and the commune's defaults for
    spatial coverage and contact point when the caller gave none."""
    for field_name in CLEANED_REPEATING_FIELDS:
        _drop_blank_entries(data, field_name)
    owner_errors = errors.get(("owner_org",))
    profile = None if owner_errors else owner.owner_profile(data.get(("owner_org",)))
    derived = owner.publisher_for(profile) if profile else {}

    # Harvesters route a source's datasets to the commune's organisation: the source's own wording of
    # the publisher (another URI, "Ville de Bron") is replaced, not refused.
    harvested = is_harvest(context)
    if not harvested and _names_another_organisation(_submitted_publisher(data), derived, profile):
        for error_key in [k for k in errors if k and k[0] == "publisher"]:
            del errors[error_key]
        errors[("publisher",)] = [
            tk._("The publisher is derived from the owner organisation: it cannot name another organisation.")
        ]
        return
    data.pop(("publisher",), None)
    _set_entries(data, "publisher", [derived] if derived else [])

    if profile is None:
        return
    defaults = {"spatial_coverage": owner.spatial_for(profile), "contact": owner.contact_for(profile)}
    for field_name in OWNER_DEFAULTED_FIELDS:
        if not _entries(data, field_name) and defaults[field_name]:
            _set_entries(data, field_name, [defaults[field_name]])


def communes_temporal_order(key: Key, data: FlatData, errors: dict[Key, list[str]], context: Any) -> None:
    """Each temporal coverage period ends on or after its start (partial dates span their period)."""
    for index, entry in _entries(data, "temporal_coverage").items():
        start = parse_date_bounds(entry.get("start")) if not is_blank(entry.get("start")) else None
        end = parse_date_bounds(entry.get("end")) if not is_blank(entry.get("end")) else None
        if start and end and end[1] < start[0]:
            errors.setdefault(("temporal_coverage", index, "end"), []).append(
                tk._("The end of the temporal coverage is before its start.")
            )


def get_validators() -> dict[str, Any]:
    return {
        "communes_vocabulary_uri": communes_vocabulary_uri,
        "communes_vocabulary_list": communes_vocabulary_list,
        "communes_date": communes_date,
        "communes_resource_url": communes_resource_url,
        "communes_resource_format": communes_resource_format,
        "communes_guess_media_type": communes_guess_media_type,
        "communes_owner_derived_fields": communes_owner_derived_fields,
        "communes_temporal_order": communes_temporal_order,
        "communes_spatial_extent": communes_spatial_extent,
    }
