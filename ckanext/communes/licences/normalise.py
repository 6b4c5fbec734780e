"""normalize_licence: what sources write -> a registry licence, or nothing.

Sources write licence ids (CKAN: cc-by, odc-odbl...; data.gouv.fr: lov2, fr-lo...), SPDX ids,
titles in any case (Opendatasoft labels such as "Licence Ouverte v2.0 (Etalab)"), URLs
with or without scheme, www. or trailing slash, and EU licence NAL URIs
(``http://publications.europa.eu/resource/authority/licence/ETALAB_2_0``: what DCAT-AP
catalogues, ours included, put behind dct:license). Matching is exact after a canonical spelling
(case, accents, spacing, typographic dashes; for URLs scheme, www., trailing slash, fragment):
no edit distance, because a near miss is how udata turned "Licence Etalab" into the wrong
licence (udata #2618). A value that designates several licences, or none, matches nothing.
"Licence Ouverte (Etalab)" with no version is one of those: it is not an alias of any entry.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass
from typing import Literal

from ckanext.communes.licences.registry import Licence, all_licences, get_licence

MatchedBy = Literal["id", "spdx", "udata_id", "eu_uri", "url", "alternate_url", "title", "alternate_title"]

# Indices in priority order: a value is looked up in each until one answers. An EU NAL URI is
# an identifier (one concept, one licence), so it comes before the looser URL and title indices.
MATCH_ORDER: tuple[MatchedBy, ...] = (
    "id", "spdx", "udata_id", "eu_uri", "url", "alternate_url", "title", "alternate_title",
)
URL_KINDS = frozenset({"eu_uri", "url", "alternate_url"})

_TYPOGRAPHY = str.maketrans({"–": "-", "—": "-", "‐": "-", "’": "'", "‘": "'", "\u00a0": " "})
_URL_LIKE = re.compile(r"^(?:[a-z][a-z0-9+.-]*://|www\.|[^\s/]+\.[a-z]{2,}(?:/|$))", re.IGNORECASE)
_SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*://")
_SPDX_URL = re.compile(r"^spdx\.org/licenses/([^/]+?)(?:\.html|\.json)?$")
_CC_LEGAL_SUFFIX = re.compile(r"/(?:legalcode|deed)(?:\.[a-z_-]+)?$")


@dataclass(frozen=True)
class LicenceMatch:
    licence: Licence | None
    matched_by: MatchedBy | None
    original: str


def text_key(value: str) -> str:
    """Canonical spelling of a title or id: case, accents, typographic dashes/quotes and
    runs of spaces do not matter; words, punctuation and version numbers do."""
    value = unicodedata.normalize("NFKD", value.translate(_TYPOGRAPHY))
    value = "".join(c for c in value if not unicodedata.combining(c))
    return " ".join(value.casefold().split())


def looks_like_url(value: str) -> bool:
    value = value.strip()
    return bool(value) and not any(c.isspace() for c in value) and bool(_URL_LIKE.match(value))


def url_key(value: str) -> str:
    """Canonical spelling of a URL: no scheme (http and https alike), no www., no fragment,
    no trailing slash, lower case; Creative Commons legalcode/deed pages fold onto the licence."""
    key = value.strip().casefold()
    key = _SCHEME.sub("", key)
    key = key.split("#", 1)[0]
    if key.startswith("www."):
        key = key[4:]
    key = key.rstrip("/")
    if key.startswith("creativecommons.org/"):
        key = _CC_LEGAL_SUFFIX.sub("", key).rstrip("/")
    return key


@functools.cache
def _indices() -> dict[MatchedBy, dict[str, frozenset[str]]]:
    """kind -> canonical key -> ids of the licences having that key (more than one id means
    the key is ambiguous and matches nothing)."""
    indices: dict[MatchedBy, dict[str, set[str]]] = {kind: {} for kind in MATCH_ORDER}

    def add(kind: MatchedBy, raw: str, licence_id: str) -> None:
        if raw:
            key = url_key(raw) if kind in URL_KINDS else text_key(raw)
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


def normalize_licence(value: str | None, convention: str | None = None) -> LicenceMatch:
    """The registry licence ``value`` designates and how it was recognised; ``licence=None``
    (and the original kept) when the value is empty, unknown or ambiguous."""
    original = value if isinstance(value, str) else ""
    stripped = original.strip()
    if not stripped:
        return LicenceMatch(None, None, original)
    indices = _indices()
    is_url = looks_like_url(stripped)
    keys = {"text": text_key(stripped), "url": url_key(stripped) if is_url else None}
    for kind in MATCH_ORDER:
        key = keys["url"] if kind in URL_KINDS else keys["text"]
        if key is None:
            continue
        ids = indices[kind].get(key)
        if ids:
            if len(ids) > 1:  # ambiguous: never guess between licences
                return LicenceMatch(None, None, original)
            return LicenceMatch(get_licence(next(iter(ids))), kind, original)
    # spdx.org/licenses/<SPDX id>.html: the SPDX id names the licence.
    if is_url:
        spdx_url = _SPDX_URL.match(url_key(stripped))
        if spdx_url:
            ids = indices["spdx"].get(text_key(spdx_url.group(1)))
            if ids and len(ids) == 1:
                return LicenceMatch(get_licence(next(iter(ids))), "spdx", original)
    return LicenceMatch(None, None, original)
