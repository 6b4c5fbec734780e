"""Reading how licences are named: family, version and conditions, in the words and URLs portals write.

``read_name`` reads a licence name (already in ``text_key`` spelling) into a ``Reading``: the licence family
(Licence Ouverte, ODbL, ODC-By, PDDL, the Creative Commons licences, public domain, the software licences of
the registry), the version written, if any, and the registry licence both designate. Every word must be
understood: a word the reader does not know (« sauf les photographies », « Any ») makes the whole string
unread, because an unknown word may change the licence. The one tolerance is a one-letter typo in a word
of a family's NAME (« Licence Ouvert »): never in a version number, never in the BY/SA/NC/ND conditions,
where one letter changes the licence.

A family whose versions differ (Licence Ouverte 1.0/2.0, CC BY 1.0 to 4.0) needs its version written:
without it the reading names the family but no licence (``licence_id`` None). Only a source type's
convention may settle such a string (see normalise.py).

``read_url`` reads the URLs whose path says family and version (Creative Commons deeds and legal codes,
Open Data Commons pages, data.gouv.fr's pages of the Licence Ouverte). Neutral code: it imports nothing
from the registry; the registry ids it returns are checked against the registry by the caller. The canonical
spellings (``text_key``, ``url_key``) live here so that any module of the room (aliases.py included) can use
them without importing the normaliser.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass

_TYPOGRAPHY = str.maketrans({"–": "-", "—": "-", "‐": "-", "’": "'", "‘": "'", "\u00a0": " "})
_URL_LIKE = re.compile(r"^(?:[a-z][a-z0-9+.-]*://|www\.|[^\s/]+\.[a-z]{2,}(?:/|$))", re.IGNORECASE)
_SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*://")
_CC_LEGAL_SUFFIX = re.compile(r"/(?:legalcode|deed)(?:\.[a-z_-]+)?$")


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


@dataclass(frozen=True)
class Reading:
    family: str  # "LO", "ODBL", "ODC-BY", "PDDL", "CC-BY", "CC-BY-SA", ..., "CC0", "PD", "APACHE", ...
    version: str | None  # "2.0"; None when the string writes no version
    licence_id: str | None  # the registry licence designated; None when the version is missing or unknown


# family -> version written (None: no version) -> registry id. A family with no None key needs its version.
FAMILY_VERSIONS: dict[str, dict[str | None, str]] = {
    "LO": {"1.0": "fr-lo", "2.0": "etalab-2.0"},
    # Only one version of each exists: the version may be left out.
    "ODBL": {None: "ODbL-1.0", "1.0": "ODbL-1.0"},
    "ODC-BY": {None: "ODC-By-1.0", "1.0": "ODC-By-1.0"},
    "PDDL": {None: "PDDL-1.0", "1.0": "PDDL-1.0"},
    "CC0": {None: "CC0-1.0", "1.0": "CC0-1.0"},
    "PD": {None: "other-pd"},
    # Creative Commons: 1.0, 2.0, 2.5, 3.0 and 4.0 differ (4.0 alone covers the sui generis database right).
    "CC-BY": {"4.0": "CC-BY-4.0", "3.0": "CC-BY-3.0"},
    "CC-BY-SA": {"4.0": "CC-BY-SA-4.0", "3.0": "CC-BY-SA-3.0"},
    "CC-BY-NC": {"4.0": "CC-BY-NC-4.0"},
    "CC-BY-ND": {"4.0": "CC-BY-ND-4.0"},
    "CC-BY-NC-SA": {"4.0": "CC-BY-NC-SA-4.0"},
    "CC-BY-NC-ND": {"4.0": "CC-BY-NC-ND-4.0"},
    # Software (CRPA D323-2-1's list for source code).
    "APACHE": {"2.0": "Apache-2.0"},
    "MIT": {None: "MIT"},
    "BSD-2": {None: "BSD-2-Clause"},
    "BSD-3": {None: "BSD-3-Clause"},
    "CECILL": {"2.1": "CECILL-2.1"},
    "CECILL-B": {None: "CECILL-B", "1.0": "CECILL-B"},
    "CECILL-C": {None: "CECILL-C", "1.0": "CECILL-C"},
    "GPL+": {"3.0": "GPL-3.0-or-later"},
    "LGPL+": {"3.0": "LGPL-3.0-or-later"},
    "AGPL+": {"3.0": "AGPL-3.0-or-later"},
    "MPL": {"2.0": "MPL-2.0"},
    "EPL": {"2.0": "EPL-2.0"},
    "EUPL": {"1.2": "EUPL-1.2"},
}

NOISE = "_"  # a word that says nothing about the licence ("licence", "version", "de", "international"...)

# Word sequences -> the features they say. Longest sequences are tried first.
_PHRASES: dict[tuple[str, ...], tuple[str, ...]] = {}


def _phrases(features: tuple[str, ...], *spellings: str) -> None:
    for spelling in spellings:
        _PHRASES[tuple(spelling.split())] = features


_phrases((NOISE,), "licence", "license", "licences", "licenses", "licensed", "version", "v", "international",
         "internationale", "intl", "unported", "non transpose", "universal", "universel", "the", "la", "le", "les",
         "l", "de", "d", "du", "des", "et", "and", "sous", "under", "gnu", "agreement", "free software",
         "logiciel libre")
# Licence Ouverte / Open Licence (Etalab).
_phrases(("lo",), "licence ouverte", "license ouverte", "open licence", "open license", "lo", "ol")
_phrases(("etalab",), "etalab")
# Open Data Commons.
_phrases(("odc",), "odc", "open data commons")
_phrases(("odbl",), "odbl", "open database license", "open database licence")
_phrases(("pddl",), "pddl", "public domain dedication and license", "public domain dedication and licence",
         "dedicace")
_phrases(("pd",), "public domain", "domaine public", "public domain dedication")
# Creative Commons and its conditions (matched exactly: never a typo tolerance on these).
_phrases(("cc",), "cc", "creative commons")
_phrases(("cc", "zero"), "cc0", "cczero")
_phrases(("zero",), "zero", "0")
_phrases(("by",), "by", "attribution", "paternite")
_phrases(("sa",), "sa", "sharealike", "share alike", "partage dans les memes conditions", "partage a l identique",
         "partage des conditions initiales a l identique")
_phrases(("nc",), "nc", "noncommercial", "non commercial", "pas d utilisation commerciale")
_phrases(("nd",), "nd", "noderivatives", "noderivs", "no derivatives", "no derivs", "no derivative works",
         "pas de modification")
# Software.
_phrases(("apache",), "apache")
_phrases(("mit",), "mit")
_phrases(("bsd",), "bsd")
_phrases(("clause2",), "2 clause", "a 2 clauses", "2 clauses")
_phrases(("clause3",), "3 clause", "a 3 clauses", "3 clauses")
_phrases((NOISE,), "simplified", "simplifiee", "new or revised", "nouvelle ou revisee")
_phrases(("cecill",), "cecill")
_phrases(("cecill", "variant_b"), "cecill b")
_phrases(("cecill", "variant_c"), "cecill c")
_phrases(("gpl",), "gpl", "general public", "publique generale")
_phrases(("lgpl",), "lgpl", "lesser general public", "publique generale limitee")
_phrases(("agpl",), "agpl", "affero general public", "publique generale affero")
_phrases(("orlater",), "or later", "or any later version", "ou ulterieure", "ou toute version ulterieure", "+")
_phrases(("only",), "only")
_phrases(("mpl",), "mpl", "mozilla public", "publique mozilla")
_phrases(("epl",), "epl", "eclipse public", "publique eclipse")
_phrases(("eupl",), "eupl", "european union public", "publique de l union europeenne")

_LONGEST_PHRASE = max(len(words) for words in _PHRASES)
_KNOWN_WORDS = frozenset(word for words in _PHRASES for word in words)

# Words of a family's name: the only words a one-letter typo is forgiven in (never BY/SA/NC/ND, never digits).
_TYPO_TOLERANT_WORDS = frozenset({
    "licence", "license", "ouverte", "etalab", "creative", "commons", "database", "dedication", "domain",
    "domaine", "public", "apache", "mozilla", "eclipse", "european",
})
_MIN_TYPO_WORD_LENGTH = 5

# What each family may be written with; any other feature makes the string unread.
_ALLOWED: dict[str, frozenset[str]] = {
    "LO": frozenset({"lo", "etalab"}),
    "ODBL": frozenset({"odbl", "odc"}),
    "ODC-BY": frozenset({"odc", "by"}),
    "PDDL": frozenset({"pddl", "odc", "pd"}),
    "CC0": frozenset({"cc", "zero", "pd"}),
    "PD": frozenset({"pd"}),
    "APACHE": frozenset({"apache"}),
    "MIT": frozenset({"mit"}),
    "BSD-2": frozenset({"bsd", "clause2"}),
    "BSD-3": frozenset({"bsd", "clause3"}),
    "CECILL": frozenset({"cecill"}),
    "CECILL-B": frozenset({"cecill", "variant_b"}),
    "CECILL-C": frozenset({"cecill", "variant_c"}),
    "GPL+": frozenset({"gpl", "orlater"}),
    "LGPL+": frozenset({"lgpl", "orlater"}),
    "AGPL+": frozenset({"agpl", "orlater"}),
    "MPL": frozenset({"mpl"}),
    "EPL": frozenset({"epl"}),
    "EUPL": frozenset({"eupl"}),
}
_CC_CONDITIONS = frozenset({"cc", "by", "sa", "nc", "nd"})

_SEPARATORS = re.compile(r"[\s\-_/()\[\]{},;:«»\"'|*!?]+")
_VERSION = re.compile(r"^v?(\d{1,2})(?:\.(\d{1,2}))?$")
# "gplv3", "odblv1": a family word glued to its version.
_GLUED_VERSION = re.compile(r"^(gpl|lgpl|agpl|odbl|eupl|mpl|epl|cecill)(v?\d{1,2}(?:\.\d{1,2})?)$")


def _tokens(key: str) -> list[str]:
    spaced = key.replace("+", " + ")
    tokens: list[str] = []
    for raw in _SEPARATORS.split(spaced):
        token = raw.strip(".")
        if not token:
            continue
        glued = _GLUED_VERSION.match(token)
        tokens.extend(glued.groups() if glued else (token,))
    return tokens


def _version(token: str) -> str | None:
    match = _VERSION.match(token)
    if match is None:
        return None
    return f"{int(match.group(1))}.{int(match.group(2) or 0)}"


def _one_edit_apart(a: str, b: str) -> bool:
    """Damerau-Levenshtein distance exactly 1 (one letter added, removed, replaced, or two swapped)."""
    if a == b or abs(len(a) - len(b)) > 1:
        return False
    if len(a) == len(b):
        diffs = [i for i in range(len(a)) if a[i] != b[i]]
        if len(diffs) == 1:
            return True
        if len(diffs) != 2 or diffs[1] != diffs[0] + 1:
            return False
        first, second = diffs
        return a[first] == b[second] and a[second] == b[first]  # two neighbours swapped
    short, long_ = (a, b) if len(a) < len(b) else (b, a)
    return any(long_[:i] + long_[i + 1:] == short for i in range(len(long_)))


def _corrected(token: str) -> str | None:
    """The family-name word ``token`` is a one-letter typo of, when exactly one such word exists."""
    if len(token) < _MIN_TYPO_WORD_LENGTH or not token.isalpha() or token in _KNOWN_WORDS:
        return None
    near = {word for word in _TYPO_TOLERANT_WORDS if _one_edit_apart(token, word)}
    # "licence" and "license" are one letter apart and say the same: either will do.
    if near == {"licence", "license"}:
        return "licence"
    return next(iter(near)) if len(near) == 1 else None


def _features(tokens: list[str]) -> tuple[set[str], set[str]] | None:
    """The features and versions the words say; None when a word is not understood."""
    features: set[str] = set()
    versions: set[str] = set()
    i = 0
    while i < len(tokens):
        for length in range(min(_LONGEST_PHRASE, len(tokens) - i), 0, -1):
            said = _PHRASES.get(tuple(tokens[i:i + length]))
            if said is not None:
                features.update(f for f in said if f != NOISE)
                i += length
                break
        else:
            version = _version(tokens[i])
            if version is None:
                return None
            versions.add(version)
            i += 1
    return features, versions


def _family(features: set[str]) -> str | None:
    """The one family the features name, or None (no family, two families, or a feature foreign to it)."""
    candidates: set[str] = set()
    # Creative Commons: named, or BY written with its conditions (CC's own titles: « Attribution-ShareAlike
    # 4.0 International »). Conditions alone (« SA 4.0 », « NC ») name nothing.
    conditions = {"sa", "nc", "nd"} & features
    if "cc" in features or ("by" in features and conditions and "odc" not in features):
        if "zero" in features:
            candidates.add("CC0")
        elif "by" in features or conditions:
            if {"sa", "nd"} <= features:
                return None  # no licence both shares alike and forbids derivatives
            candidates.add("CC-BY" + "-NC" * ("nc" in features) + "-ND" * ("nd" in features)
                           + "-SA" * ("sa" in features))
        else:
            return None  # "Creative Commons" alone: a family of families
    if "odbl" in features:
        candidates.add("ODBL")
    if "pddl" in features:
        candidates.add("PDDL")
    if "odc" in features and "by" in features and "cc" not in features:
        candidates.add("ODC-BY")
    if {"lo", "etalab"} & features:
        candidates.add("LO")
    if "pd" in features and not ({"pddl", "zero"} & features):
        candidates.add("PD")
    if "apache" in features:
        candidates.add("APACHE")
    if "mit" in features:
        candidates.add("MIT")
    if "bsd" in features:
        if "clause2" in features:
            candidates.add("BSD-2")
        if "clause3" in features:
            candidates.add("BSD-3")
    if "cecill" in features:
        candidates.add("CECILL-B" if "variant_b" in features else "CECILL-C" if "variant_c" in features else "CECILL")
    for gnu in ("agpl", "lgpl", "gpl"):
        if gnu in features:
            candidates.add(gnu.upper() + "+" if "orlater" in features else gnu.upper())
            break
    for family in ("mpl", "epl", "eupl"):
        if family in features:
            candidates.add(family.upper())
    if len(candidates) != 1:
        return None
    (family,) = candidates
    allowed = _ALLOWED.get(family, _CC_CONDITIONS if family.startswith("CC-") else frozenset())
    return family if features <= allowed else None


@functools.lru_cache(maxsize=8192)
def read_name(key: str) -> Reading | None:
    """The family, version and licence ``key`` (a ``text_key`` spelling) names; None when it is not read
    as a licence name (an unknown word, no family, two families, two versions)."""
    tokens = _tokens(key)
    if not tokens:
        return None
    said = _features(tokens)
    if said is None:
        corrected = [_corrected(token) or token if _version(token) is None else token for token in tokens]
        if corrected == tokens:
            return None
        said = _features(corrected)
        if said is None:
            return None
    features, versions = said
    family = _family(features)
    if family is None or len(versions) > 1:
        return None
    version = next(iter(versions), None)
    ids = FAMILY_VERSIONS.get(family, {})
    return Reading(family=family, version=version, licence_id=ids.get(version))


# URLs (in ``url_key`` spelling: no scheme, no www., no trailing slash, lower case, CC deed/legalcode folded).
_CC_URL = re.compile(r"^creativecommons\.org/licenses/(by(?:-nc)?(?:-nd|-sa)?)/(\d\.\d)(/[a-z]{2}(?:-[a-z]{2})?)?$")
_CC_ZERO_URL = re.compile(r"^creativecommons\.org/publicdomain/zero/1\.0$")
_ODC_URL = re.compile(
    r"^opendatacommons\.org/licenses/(odbl|by|pddl)(?:/(?:1-0|1\.0))?(?:/(?:summary|index\.html|[a-z]{2}))*$"
)
_ODC_FAMILIES = {"odbl": "ODbL-1.0", "by": "ODC-By-1.0", "pddl": "PDDL-1.0"}
_OPENDEFINITION_URL = re.compile(r"^opendefinition\.org/licenses/(odc-odbl|odc-by|odc-pddl|cc-zero|cc-by|cc-by-sa)$")
# Open Definition's list gives each of these pages one licence (cc-by: CC BY 4.0, cc-by-sa: CC BY-SA 4.0);
# CKAN's and data.gouv.fr's lists point their ids at them.
_OPENDEFINITION = {"odc-odbl": "ODbL-1.0", "odc-by": "ODC-By-1.0", "odc-pddl": "PDDL-1.0", "cc-zero": "CC0-1.0",
                   "cc-by": "CC-BY-4.0", "cc-by-sa": "CC-BY-SA-4.0"}
# data.gouv.fr's own pages of each version (etalab/datagouvfr-pages, pages/legal/licences/etalab-*.md).
_DATAGOUV_LO_URL = re.compile(r"^data\.gouv\.fr/(?:[a-z]{2}/)?pages/legal/licences/etalab-(1\.0|2\.0)$")


@functools.lru_cache(maxsize=8192)
def read_url(key: str) -> str | None:
    """The registry id a licence URL (``url_key`` spelling) designates by its path; None when its path
    does not say one licence (a list page, a jurisdiction port, a version the registry lacks)."""
    cc = _CC_URL.match(key)
    if cc:
        if cc.group(3):
            return None  # a jurisdiction port (by/3.0/fr) is another licence than the international one
        return FAMILY_VERSIONS.get("CC-" + cc.group(1).upper(), {}).get(cc.group(2))
    if _CC_ZERO_URL.match(key):
        return "CC0-1.0"
    odc = _ODC_URL.match(key)
    if odc:
        return _ODC_FAMILIES[odc.group(1)]
    opendefinition = _OPENDEFINITION_URL.match(key)
    if opendefinition:
        return _OPENDEFINITION[opendefinition.group(1)]
    datagouv = _DATAGOUV_LO_URL.match(key)
    if datagouv:
        return FAMILY_VERSIONS["LO"][datagouv.group(1)]
    return None
