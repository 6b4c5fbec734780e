"""What a dataset inherits from its owner organisation (the commune profile): publisher, default
spatial coverage, default contact point.

One place computes these values, so the validators (server-side defaults), the new-dataset form
(pre-filled values) and the DCAT profile agree. Values follow ckanext-dcat's scheming field formats
(``publisher``/``contact``/``spatial_coverage`` are lists of dicts with dcat_ap_full.yaml's subfields).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import ckan.model as model
import ckan.plugins.toolkit as tk

from ckanext.communes import uris
from ckanext.communes.communes.registry import get_commune

# URIs are minted in one neutral module (uris.py) that the DCAT concern uses too: commune as agent
# {base}/communes/{insee}, other organisation by SIREN, territory http://id.insee.fr/geo/commune/{insee}.
LOCAL_AUTHORITY_KINDS = ("commune", "metropole")


@dataclass(frozen=True)
class OwnerProfile:
    """The organisation fields a dataset's defaults come from (extras of the organisation schema)."""

    id: str
    name: str
    title: str
    insee_code: str = ""
    siren: str = ""
    official_name: str = ""
    kind: str = ""
    referent_name: str = ""
    referent_email: str = ""
    website: str = ""

    @property
    def display_name(self) -> str:
        return self.official_name or self.title or self.name


def owner_profile(org_id_or_name: Any) -> OwnerProfile | None:
    """The profile of an active organisation (id or name), read from the database; None if unknown.

    Read straight from the model: this runs inside validation and indexing, where calling
    organization_show (auth, dictization of members) would be slow and recursive."""
    if isinstance(org_id_or_name, dict):
        org_id_or_name = org_id_or_name.get("id") or org_id_or_name.get("name")
    if not org_id_or_name or not isinstance(org_id_or_name, str):
        return None
    group = model.Group.get(org_id_or_name)
    if group is None or not group.is_organization or group.state != "active":
        return None
    extras = dict(group.extras or {})

    def extra(key: str) -> str:
        return str(extras.get(key) or "").strip()

    return OwnerProfile(
        id=group.id,
        name=group.name,
        title=group.title or group.name,
        insee_code=extra("insee_code"),
        siren=extra("siren").replace(" ", ""),
        official_name=extra("official_name"),
        kind=extra("kind"),
        referent_name=extra("referent_name"),
        referent_email=extra("referent_email"),
        website=extra("website"),
    )


def commune_name(insee: str) -> str:
    """Current name of a commune from the communes registry ("" when unknown)."""
    commune = get_commune(insee)
    return commune.name if commune else ""


def organisation_uri(profile: OwnerProfile) -> str:
    """ckanext-dcat's fallback URI of an organisation ({site_url}/organization/{name})."""
    site_url = (tk.config.get("ckan.site_url") or "").rstrip("/")
    return f"{site_url}/organization/{profile.name}"


def publisher_for(profile: OwnerProfile) -> dict[str, str]:
    """The dct:publisher of the owner's datasets: name, stable URI, SIREN, ADMS type, website."""
    if profile.kind == "commune" and profile.insee_code:
        uri = uris.commune_uri(profile.insee_code)
    elif profile.siren:
        uri = uris.siren_uri(profile.siren)
    else:
        uri = organisation_uri(profile)
    publisher = {
        "name": profile.display_name,
        "uri": uri,
        "identifier": profile.siren,
        "type": uris.PUBLISHER_TYPE_LOCAL_AUTHORITY if profile.kind in LOCAL_AUTHORITY_KINDS else "",
        "url": profile.website,
    }
    return {key: value for key, value in publisher.items() if value}


def spatial_for(profile: OwnerProfile) -> dict[str, str] | None:
    """Default spatial coverage: the owner commune (None for an organisation without INSEE code)."""
    if not profile.insee_code:
        return None
    label = commune_name(profile.insee_code) or profile.official_name or profile.title
    return {"uri": uris.commune_spatial_uri(profile.insee_code), "text": label}


def contact_for(profile: OwnerProfile) -> dict[str, str] | None:
    """Default contact point: the commune's open-data referent (None when the profile names none)."""
    if not (profile.referent_name or profile.referent_email):
        return None
    contact = {"name": profile.referent_name or profile.display_name, "email": profile.referent_email}
    return {key: value for key, value in contact.items() if value}
