"""Who publishes what, in ckanext-dcat's publisher format: a dataset's publisher as the schema derives it
from its owner organisation, a commune's catalogue's publisher, and the portal-wide catalogue's (the
Métropole de Lyon, which runs the portal). Read by the profile; kept apart so that the profile only writes
RDF."""

from __future__ import annotations

from ckan import model

from ckanext.communes import uris


def publisher_for_org(org_id: str) -> dict[str, str] | None:
    """The publisher an organisation stands for, as the schema derives it for its datasets
    (schema/owner.py: commune URI by INSEE code, else by SIREN), in ckanext-dcat's publisher format."""
    from ckanext.communes.schema.owner import owner_profile, publisher_for

    profile = owner_profile(org_id)
    return publisher_for(profile) if profile is not None else None


def publisher_for_commune(insee: str) -> dict[str, str] | None:
    """The publisher of a commune's catalogue: its organisation's, else the registry's identity."""
    from ckanext.communes.communes.programme import commune_group_for
    from ckanext.communes.communes.registry import get_commune

    commune = get_commune(insee)
    if commune is None:
        return None
    group = commune_group_for(commune.insee)
    publisher = publisher_for_org(group.id) if group is not None else None
    if publisher and publisher.get("uri") == uris.commune_uri(commune.insee):
        return publisher
    return {
        "uri": uris.commune_uri(commune.insee),
        "name": (publisher or {}).get("name") or commune.name,
        "identifier": commune.siren,
        "type": uris.PUBLISHER_TYPE_LOCAL_AUTHORITY,
        **({"url": publisher["url"]} if publisher and publisher.get("url") else {}),
    }


def site_publisher() -> dict[str, str]:
    """The publisher of the portal-wide catalogue: the Métropole de Lyon, which runs the portal."""
    from ckanext.communes.communes.programme import metropole_org_name
    from ckanext.communes.communes.registry import METROPOLE_NAME, METROPOLE_SIREN

    group = model.Group.get(metropole_org_name())
    publisher = publisher_for_org(group.id) if group is not None else None
    return publisher or {
        "uri": uris.siren_uri(METROPOLE_SIREN),
        "name": METROPOLE_NAME,
        "identifier": METROPOLE_SIREN,
        "type": uris.PUBLISHER_TYPE_LOCAL_AUTHORITY,
    }
