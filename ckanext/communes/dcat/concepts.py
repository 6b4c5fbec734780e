"""Labels and schemes of the vocabulary concepts our RDF uses, so that the output is self-contained:
each concept carries skos:inScheme its scheme and a French (and English) skos:prefLabel.

Where the labels come from (one source per vocabulary):
- EU NALs the portal stores values of (data-theme, frequency, file-type, access-right, language) and the EU
  High-Value Dataset categories:
  the vocabulary files (ckanext/communes/vocabularies/data/*.csv);
- EU licence NAL: the licence registry (its French title);
- distribution status, planned availability, ADMS publisher and licence types, and every scheme's
  title: data/concepts.csv.
"""

from __future__ import annotations

import csv
import functools
import os
from dataclasses import dataclass

from ckanext.communes import uris

CONCEPTS_FILE = os.path.join(os.path.dirname(__file__), "data", "concepts.csv")

# Vocabulary files of the portal, by the scheme of their terms.
PORTAL_VOCABULARIES = ("data-theme", "frequency", "file-type", "access-right", "language", "hvd-category")


@dataclass(frozen=True)
class Concept:
    uri: str
    scheme: str  # "" for a concept scheme itself
    label_fr: str
    label_en: str


@functools.cache
def _from_file() -> dict[str, Concept]:
    with open(CONCEPTS_FILE, encoding="utf-8", newline="") as f:
        return {
            row["uri"].strip(): Concept(
                uri=row["uri"].strip(),
                scheme=(row["scheme"] or "").strip(),
                label_fr=(row["label_fr"] or "").strip(),
                label_en=(row["label_en"] or "").strip(),
            )
            for row in csv.DictReader(f)
        }


def scheme(uri: str) -> Concept | None:
    """A concept scheme by URI (title in French and English)."""
    concept = _from_file().get(uri)
    return concept if concept is not None and not concept.scheme else None


def concept(uri: str, vocabulary: str | None = None) -> Concept | None:
    """The concept ``uri``: from the portal vocabulary ``vocabulary`` when given (and for licences, the
    licence registry), else from data/concepts.csv. None when unknown."""
    if vocabulary in PORTAL_VOCABULARIES:
        from ckanext.communes.vocabularies import get_vocabulary

        term = get_vocabulary(vocabulary).by_uri(uri)
        if term is None:
            return None
        return Concept(uri=term.uri, scheme=uris.SCHEMES[vocabulary], label_fr=term.label_fr, label_en=term.label_en)
    if vocabulary == "licence":
        from ckanext.communes.licences.normalise import normalize_licence

        licence = normalize_licence(uri).licence
        if licence is None or not licence.eu_uri:
            return None
        return Concept(uri=licence.eu_uri, scheme=uris.EU_LICENCE_SCHEME, label_fr=licence.title, label_en="")
    found = _from_file().get(uri)
    return found if found is not None and found.scheme else None
