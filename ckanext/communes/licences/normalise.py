"""normalize_licence: what sources write -> a registry licence, or nothing. Never a wrong licence.

Sources write licence ids (CKAN: cc-by, odc-odbl...; data.gouv.fr: lov2, fr-lo...), SPDX ids, titles in
any case and wording (Opendatasoft labels such as "Licence Ouverte v2.0 (Etalab)", « Licence ouverte
d'Etalab v2.0 », « etalab 2.0 »), URLs of every form, and EU licence NAL URIs
(``http://publications.europa.eu/resource/authority/licence/ETALAB_2_0``). In order:

1. operator aliases (aliases.py): an exact alias an operator added wins, read on every call;
2. the source type's convention (data/conventions/<type>.csv), when the caller names the source type:
   what that kind of source means by a string no other reading settles (Opendatasoft's « Licence Ouverte
   (Etalab) » is 1.0; data.gouv.fr's and CKAN's ids and titles);
3. the registry's ids, SPDX ids, data.gouv.fr ids, EU URIs, URLs and titles, exactly after a canonical
   spelling (naming.text_key / naming.url_key). A registry title that names a family without the version
   the family needs (« CC BY », « Creative Commons Attribution », « Licence Ouverte / Open Licence ») is
   not used here: it could be two licences. data.gouv.fr's and CKAN's ids are matched as written (lower
   case slugs: "cc-by" is CKAN's and udata's id, "CC-BY" is a name without a version);
4. reading the name or URL (naming.py): family, version, conditions; a one-letter typo forgiven in a
   family's name only.

A value that designates several licences, or none, matches nothing (``licence=None``, original kept).
The string path (2-4) is cached; operator aliases are consulted before the cache, so that an alias added
applies at once.
"""

from __future__ import annotations

import csv
import functools
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from ckanext.communes.licences.aliases import operator_aliases
from ckanext.communes.licences.naming import FAMILY_VERSIONS, looks_like_url, read_name, read_url, text_key, url_key
from ckanext.communes.licences.registry import Licence, all_licences, get_licence

__all__ = [
    "CONVENTIONS", "MATCH_ORDER", "LicenceMatch", "MatchedBy", "looks_like_url", "normalize_licence", "text_key",
    "url_key",
]

MatchedBy = Literal[
    "id", "spdx", "udata_id", "eu_uri", "url", "alternate_url", "title", "alternate_title",
    "operator_alias", "convention", "parsed",
]

# Registry indices in priority order: a value is looked up in each until one answers. An EU NAL URI is
# an identifier (one concept, one licence), so it comes before the looser URL and title indices.
MATCH_ORDER: tuple[MatchedBy, ...] = (
    "id", "spdx", "udata_id", "eu_uri", "url", "alternate_url", "title", "alternate_title",
)
URL_KINDS = frozenset({"eu_uri", "url", "alternate_url"})
TITLE_KINDS = frozenset({"title", "alternate_title"})
# data.gouv.fr's and CKAN's ids are slugs matched as written, not names folded to lower case.
EXACT_KINDS = frozenset({"udata_id"})

# The source types whose conventions live in data/conventions/<type>.csv.
CONVENTIONS: tuple[str, ...] = ("ods", "udata", "ckan", "dcat", "csw")
CONVENTIONS_DIR = os.path.join(os.path.dirname(__file__), "data", "conventions")

_SPDX_URL = re.compile(r"^spdx\.org/licenses/([^/]+?)(?:\.html|\.json)?$")
# A link inside a text (« Licence Ouverte : https://www.etalab.gouv.fr/licence-ouverte-open-licence »).
_EMBEDDED_URL = re.compile(r"https?://[^\s<>\"«»]+", re.IGNORECASE)
_URL_TRAILERS = ").,;:»]'\""
_LEFTOVER = " \t:-()[],;.«»'\""


@dataclass(frozen=True)
class LicenceMatch:
    licence: Licence | None
    matched_by: MatchedBy | None
    original: str


def _index_key(kind: MatchedBy, raw: str) -> str:
    if kind in URL_KINDS:
        return url_key(raw)
    if kind in EXACT_KINDS:
        return raw.strip()
    return text_key(raw)


@functools.cache
def _indices() -> dict[MatchedBy, dict[str, frozenset[str]]]:
    """kind -> canonical key -> ids of the licences having that key (more than one id means
    the key is ambiguous and matches nothing)."""
    indices: dict[MatchedBy, dict[str, set[str]]] = {kind: {} for kind in MATCH_ORDER}

    def add(kind: MatchedBy, raw: str, licence_id: str) -> None:
        if not raw:
            return
        key = _index_key(kind, raw)
        if kind in TITLE_KINDS and not _title_names_only(key, licence_id):
            return
        indices[kind].setdefault(key, set()).add(licence_id)

    for licence in all_licences():
        add("id", licence.id, licence.id)
        add("spdx", licence.spdx, licence.id)
        add("udata_id", licence.udata_id, licence.id)
        add("eu_uri", licence.eu_uri, licence.id)
        add("url", licence.url, licence.id)
        for url in licence.alternate_urls:
            add("alternate_url", url, licence.id)
        add("title", licence.title, licence.id)
        # data.gouv.fr's title is what its exports and udata harvests write.
        for title in (*licence.alternate_titles, licence.udata_title):
            add("alternate_title", title, licence.id)
    return {kind: {k: frozenset(v) for k, v in index.items()} for kind, index in indices.items()}


def _title_names_only(key: str, licence_id: str) -> bool:
    """Whether a registry title may stand for its licence without a convention: not when reading it gives
    a family without the version it needs (« CC BY »: 1.0 to 4.0), nor another licence."""
    reading = read_name(key)
    return reading is None or reading.licence_id == licence_id


def dropped_titles() -> list[tuple[str, str, str | None]]:
    """(licence id, title, what reading it gives) of the registry titles _indices leaves out: the table of
    what only a convention can settle (and a check that no title reads as another licence)."""
    dropped = []
    for licence in all_licences():
        for title in (licence.title, *licence.alternate_titles, licence.udata_title):
            if title and not _title_names_only(text_key(title), licence.id):
                reading = read_name(text_key(title))
                dropped.append((licence.id, title, reading.licence_id if reading else None))
    return dropped


@functools.cache
def _conventions() -> dict[str, dict[str, str]]:
    """source type -> text key of a value -> registry id ("" when the convention says the value designates
    no single licence). Comment lines start with "#"."""
    conventions: dict[str, dict[str, str]] = {}
    for convention in CONVENTIONS:
        path = os.path.join(CONVENTIONS_DIR, f"{convention}.csv")
        with open(path, encoding="utf-8", newline="") as f:
            lines = [line for line in f if line.strip() and not line.lstrip().startswith("#")]
        table: dict[str, str] = {}
        for row in csv.DictReader(lines):
            value, licence_id = (row.get("value") or "").strip(), (row.get("licence_id") or "").strip()
            if licence_id and get_licence(licence_id) is None:
                raise ValueError(f"conventions/{convention}.csv: {value!r} -> {licence_id!r}, not a registry id")
            key = text_key(value)
            if key in table and table[key] != licence_id:
                raise ValueError(f"conventions/{convention}.csv: {value!r} given two licences")
            table[key] = licence_id
        conventions[convention] = table
    return conventions


@functools.lru_cache(maxsize=16384)
def _match(stripped: str, convention: str | None) -> tuple[str | None, MatchedBy | None]:
    """The registry id (and how) of a non-empty stripped value under a convention; pure: the registry, the
    conventions and the reader are fixed for the life of the process."""
    text = text_key(stripped)
    if convention is not None:
        settled = _conventions()[convention].get(text)
        if settled is not None:
            return (settled or None), ("convention" if settled else None)
    indices = _indices()
    is_url = looks_like_url(stripped)
    url = url_key(stripped) if is_url else None
    for kind in MATCH_ORDER:
        if kind in URL_KINDS:
            if url is None:
                continue
            key = url
        else:
            key = stripped if kind in EXACT_KINDS else text
        ids = indices[kind].get(key)
        if ids:
            if len(ids) > 1:  # ambiguous: never guess between licences
                return None, None
            return next(iter(ids)), kind
    if url is not None:
        # spdx.org/licenses/<SPDX id>.html: the SPDX id names the licence.
        spdx_url = _SPDX_URL.match(url)
        if spdx_url:
            ids = indices["spdx"].get(text_key(spdx_url.group(1)))
            return (next(iter(ids)), "spdx") if ids and len(ids) == 1 else (None, None)
        licence_id = read_url(url)
        return (licence_id, "parsed") if licence_id and get_licence(licence_id) else (None, None)
    if _EMBEDDED_URL.search(stripped):
        return _text_with_links(stripped, convention)
    reading = read_name(text)
    if reading is not None and reading.licence_id and get_licence(reading.licence_id):
        return reading.licence_id, "parsed"
    return None, None


def _text_with_links(stripped: str, convention: str | None) -> tuple[str | None, MatchedBy | None]:
    """A name with links in it (GeoNetwork constraints often are): the licence when every link designates it
    and the words around designate it too or name its family without a version. A link or a word that says
    nothing known, or two licences, give none: what is unknown may change the licence."""
    ids: set[str] = set()
    for link in _EMBEDDED_URL.findall(stripped):
        licence_id, _ = _match(link.rstrip(_URL_TRAILERS), convention)
        if licence_id is None:
            return None, None
        ids.add(licence_id)
    words = _EMBEDDED_URL.sub(" ", stripped).strip(_LEFTOVER)
    family: str | None = None
    if words:
        licence_id, _ = _match(words, convention)
        if licence_id is not None:
            ids.add(licence_id)
        else:
            reading = read_name(text_key(words))
            if reading is None:
                return None, None
            family = reading.family
    if len(ids) != 1:
        return None, None
    (licence_id,) = ids
    if family is not None and licence_id not in FAMILY_VERSIONS.get(family, {}).values():
        return None, None
    return licence_id, "parsed"


# The key operator aliases are looked up by: cached (the spelling of a string never changes), unlike the
# aliases themselves, read on every call.
_alias_key = functools.lru_cache(maxsize=16384)(text_key)


def _operator_alias(stripped: str, aliases: Mapping[str, str]) -> Licence | None:
    licence_id = aliases.get(_alias_key(stripped))
    return get_licence(licence_id) if licence_id else None  # an alias to an id not in the registry is ignored


def normalize_licence(value: str | None, convention: str | None = None) -> LicenceMatch:
    """The registry licence ``value`` designates and how it was recognised; ``licence=None``
    (and the original kept) when the value is empty, unknown or could be two licences.

    ``convention`` is the source type the value comes from ("ods", "udata", "ckan", "dcat", "csw"), whose
    convention may settle a value that is otherwise ambiguous; None (or a type without a convention) is the
    strictest reading."""
    original = value if isinstance(value, str) else ""
    stripped = original.strip()
    if not stripped:
        return LicenceMatch(None, None, original)
    aliases = operator_aliases()
    if aliases:
        licence = _operator_alias(stripped, aliases)
        if licence is not None:
            return LicenceMatch(licence, "operator_alias", original)
    licence_id, kind = _match(stripped, convention if convention in CONVENTIONS else None)
    licence = get_licence(licence_id) if licence_id else None
    return LicenceMatch(licence, kind if licence else None, original)
