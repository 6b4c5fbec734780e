"""What the RDF says about a licence (a dct:LicenseDocument node), from the licence registry.

Every licence value gets a node, never a literal:
- a registry licence: its EU licence NAL URI where one exists, else its canonical URL, else a URI
  minted by the portal (``{base}/licences/{id}``, uris.licence_uri); with its French title
  (dct:title@fr), an rdfs:label that data.gouv.fr (udata) recognises (the title data.gouv.fr gives
  it, else the French title), rdfs:seeAlso its canonical URL when that is not the node, and whether
  it is open: rdfs:comment in French and English, and for a licence that is not open an ADMS licence
  type saying why (other restrictive clauses, non-commercial use only, unknown rights);
- a value unknown to the registry (harvested as-is): the value itself as node when it is an absolute
  URL, else a blank node; labelled with the original text, ADMS type "unknown IPR".
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ckanext.communes import uris

LICENCE_TYPE_OTHER_RESTRICTIVE = "http://purl.org/adms/licencetype/OtherRestrictiveClauses"
LICENCE_TYPE_NON_COMMERCIAL = "http://purl.org/adms/licencetype/NonCommercialUseOnly"
# Why a licence that is not open is not: by registry id, else "other restrictive clauses".
NOT_OPEN_TYPES = {
    "notspecified": uris.LICENCE_TYPE_UNKNOWN,
    "unrecognised": uris.LICENCE_TYPE_UNKNOWN,  # « licence non reconnue »: the source's terms are not known
    "other-nc": LICENCE_TYPE_NON_COMMERCIAL,
}
OPEN_COMMENTS = {
    "fr": "Licence ouverte : réutilisation libre et gratuite, y compris commerciale.",
    "en": "Open licence: free reuse, commercial use included.",
}
NOT_OPEN_COMMENTS = {
    "fr": "Licence non ouverte : la réutilisation est soumise à des conditions.",
    "en": "Not an open licence: reuse is subject to conditions.",
}
UNKNOWN_COMMENTS = {
    "fr": "Licence inconnue du portail : conditions de réutilisation non vérifiées.",
    "en": "Licence unknown to the portal: reuse conditions not checked.",
}
_ABSOLUTE_URL = re.compile(r"^https?://\S+$", re.IGNORECASE)


@dataclass(frozen=True)
class LicenceNode:
    uri: str | None  # None: a blank node
    licence_id: str | None  # registry id, None for a value unknown to the registry
    title_fr: str  # dct:title@fr ("" for an unknown value)
    label: str  # rdfs:label (data.gouv.fr's title, else the French title, else the original text)
    see_also: str  # canonical URL when it is not the node itself
    is_open: bool | None  # None: unknown
    licence_type: str  # ADMS licence type URI, "" for an open licence
    eu: bool  # the node is an EU licence NAL concept


def licence_node(value: str) -> LicenceNode | None:
    """The node of a stored licence value (registry id, or anything normalize_licence knows); None for
    an empty value."""
    value = (value or "").strip()
    if not value:
        return None
    from ckanext.communes.licences.normalise import normalize_licence
    from ckanext.communes.licences.registry import get_licence

    licence = get_licence(value) or normalize_licence(value).licence or _minted_licence(value)
    if licence is None:
        return LicenceNode(
            uri=value if _ABSOLUTE_URL.match(value) else None,
            licence_id=None,
            title_fr="",
            label=value,
            see_also="",
            is_open=None,
            licence_type=uris.LICENCE_TYPE_UNKNOWN,
            eu=False,
        )
    uri = licence.eu_uri or licence.url or uris.licence_uri(licence.id)
    return LicenceNode(
        uri=uri,
        licence_id=licence.id,
        title_fr=licence.title,
        label=licence.udata_title or licence.title,
        see_also=licence.url if licence.url and licence.url != uri else "",
        is_open=licence.is_open,
        licence_type="" if licence.is_open else NOT_OPEN_TYPES.get(licence.id, LICENCE_TYPE_OTHER_RESTRICTIVE),
        eu=bool(licence.eu_uri),
    )


def _minted_licence(value: str):  # noqa: ANN202 - Licence | None, imported lazily
    """The registry licence of a URI the portal minted (``{base}/licences/{id}``)."""
    from ckanext.communes.licences.registry import get_licence

    licence_id = uris.licence_id_from_uri(value)
    return get_licence(licence_id) if licence_id else None


def licence_id_for(value: str | None) -> str | None:
    """The registry id of an RDF licence value (EU NAL URI, canonical or alternate URL, minted URI,
    id, title...); None when the registry does not know it."""
    node = licence_node(value or "")
    return node.licence_id if node is not None else None
