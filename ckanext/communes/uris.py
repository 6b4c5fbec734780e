"""Stable URIs of the things our RDF talks about: communes as publishers, their territory, their
catalogues, and the EU/ADMS vocabulary concepts the profile adds.

Design:
- A commune as an agent (dct:publisher) is ``{base}/communes/{insee}``: the commune's page on the
  portal, keyed by the INSEE (COG) code and not by the organisation slug, so renaming the
  organisation does not change it. A commune created by a merger gets a new code and a new SIREN:
  it is a new legal person, so a new URI is right.
- An organisation that is not a commune but has a SIREN (the Métropole de Lyon, a syndicate...) is
  ``https://annuaire-entreprises.data.gouv.fr/entreprise/{siren}``: the French state's public page
  of the legal unit, stable and independent of this portal.
- A commune's territory (dct:spatial, a dct:Location) is INSEE's code-based URI
  ``http://id.insee.fr/geo/commune/{insee}``. The EU place NAL has no French communes, so the
  DCAT-AP controlled-vocabulary shape reports this as a *warning* (never a violation).
- A commune's catalogue is ``{base}/communes/{insee}/catalog``; it is served as
  ``/communes/{insee}/catalog.{ttl,rdf,xml,jsonld}``.
- A licence with neither an EU licence NAL URI nor a canonical URL (the Métropole's « licence
  engagée », CKAN's ``other-*``) is ``{base}/licences/{licence_id}``, a page the portal serves.

``{base}`` is ckanext-dcat's catalogue URI (``ckanext.dcat.base_uri``, else ``ckan.site_url``), so
our URIs move with the dataset URIs ckanext-dcat mints.
"""

from __future__ import annotations

from urllib.parse import quote, unquote

from ckanext.dcat.utils import catalog_uri

EU_AUTHORITY = "http://publications.europa.eu/resource/authority"

INSEE_COMMUNE_PREFIX = "http://id.insee.fr/geo/commune/"
SIREN_PAGE_PREFIX = "https://annuaire-entreprises.data.gouv.fr/entreprise/"
IANA_MEDIA_TYPES_PREFIX = "https://www.iana.org/assignments/media-types/"

# ADMS publisher types (http://purl.org/adms/publishertype/1.0): communes and the Métropole are
# local authorities (collectivités territoriales).
PUBLISHER_TYPE_SCHEME = "http://purl.org/adms/publishertype/1.0"
PUBLISHER_TYPE_LOCAL_AUTHORITY = "http://purl.org/adms/publishertype/LocalAuthority"

# ADMS licence types (http://purl.org/adms/licencetype/1.0) used on dct:LicenseDocument.
LICENCE_TYPE_SCHEME = "http://purl.org/adms/licencetype/1.0"
LICENCE_TYPE_ATTRIBUTION = "http://purl.org/adms/licencetype/Attribution"
LICENCE_TYPE_UNKNOWN = "http://purl.org/adms/licencetype/UnknownIPR"

EU_LICENCE_SCHEME = f"{EU_AUTHORITY}/licence"

# Vocabulary schemes (skos:ConceptScheme) of the EU NALs our vocabularies come from.
SCHEMES: dict[str, str] = {
    "data-theme": f"{EU_AUTHORITY}/data-theme",
    "frequency": f"{EU_AUTHORITY}/frequency",
    "file-type": f"{EU_AUTHORITY}/file-type",
    "access-right": f"{EU_AUTHORITY}/access-right",
    "language": f"{EU_AUTHORITY}/language",
    "distribution-status": f"{EU_AUTHORITY}/distribution-status",
    "planned-availability": f"{EU_AUTHORITY}/planned-availability",
    "hvd-category": "http://data.europa.eu/bna/asd487ae75",
}

# The legislation a High-Value Dataset is published under: Commission Implementing Regulation (EU) 2023/138.
HVD_LEGISLATION = "http://data.europa.eu/eli/reg_impl/2023/138/oj"

LANGUAGE_FRA = f"{EU_AUTHORITY}/language/FRA"

# ckanext-dcat's scheming schema offers ADMS statuses for resources; DCAT-AP 3 constrains
# adms:status of a distribution to the EU distribution-status NAL. Both directions, for round trips.
ADMS_STATUS_TO_EU: dict[str, str] = {
    "http://purl.org/adms/status/Completed": f"{EU_AUTHORITY}/distribution-status/COMPLETED",
    "http://purl.org/adms/status/UnderDevelopment": f"{EU_AUTHORITY}/distribution-status/DEVELOP",
    "http://purl.org/adms/status/Deprecated": f"{EU_AUTHORITY}/distribution-status/DEPRECATED",
    "http://purl.org/adms/status/Withdrawn": f"{EU_AUTHORITY}/distribution-status/WITHDRAWN",
}
EU_STATUS_TO_ADMS: dict[str, str] = {eu: adms for adms, eu in ADMS_STATUS_TO_EU.items()}

# Planned availability (dcatap:availability), by code, for values stored as a bare code.
PLANNED_AVAILABILITY_CODES = ("AVAILABLE", "EXPERIMENTAL", "STABLE", "TEMPORARY")


def base_uri() -> str:
    return catalog_uri().rstrip("/")


def commune_uri(insee: str) -> str:
    """The commune as an agent (publisher)."""
    return f"{base_uri()}/communes/{insee}"


def siren_uri(siren: str) -> str:
    """Any French legal unit (here: the Métropole) as an agent, by SIREN."""
    return f"{SIREN_PAGE_PREFIX}{siren}"


def commune_spatial_uri(insee: str) -> str:
    """The commune's territory (dct:Location)."""
    return f"{INSEE_COMMUNE_PREFIX}{insee}"


def commune_catalog_uri(insee: str) -> str:
    """The commune's dcat:Catalog (format independent)."""
    return f"{base_uri()}/communes/{insee}/catalog"


def commune_catalog_url(insee: str, fmt: str = "ttl") -> str:
    """Where the commune's catalogue is served in a format (ttl, rdf, xml, jsonld)."""
    return f"{commune_catalog_uri(insee)}.{fmt}"


def licence_uri(licence_id: str) -> str:
    """A licence the portal describes itself (no EU NAL URI, no canonical URL)."""
    return f"{base_uri()}/licences/{quote(licence_id, safe='')}"


def licence_id_from_uri(value: str) -> str | None:
    """Inverse of licence_uri (None for any other value)."""
    prefix = f"{base_uri()}/licences/"
    if not value.startswith(prefix):
        return None
    licence_id = unquote(value[len(prefix):].strip("/"))
    return licence_id if licence_id and "/" not in licence_id else None


def insee_code_from_spatial_uri(value: str) -> str | None:
    """``http://id.insee.fr/geo/commune/69029`` -> ``69029`` (None for another URI)."""
    if value.startswith(INSEE_COMMUNE_PREFIX):
        return value[len(INSEE_COMMUNE_PREFIX):].strip("/") or None
    return None


def iana_media_type_uri(media_type: str) -> str:
    """``text/csv`` -> ``https://www.iana.org/assignments/media-types/text/csv`` (parameters dropped)."""
    return IANA_MEDIA_TYPES_PREFIX + media_type.split(";", 1)[0].strip().lower()


def media_type_from_uri(value: str) -> str:
    """Inverse of iana_media_type_uri; any other value is returned unchanged."""
    marker = "iana.org/assignments/media-types/"
    if marker in value:
        return value.split(marker, 1)[1]
    return value


def planned_availability_uri(value: str) -> str:
    """A stored availability (EU URI or bare code such as ``STABLE``) as an EU URI."""
    if value.upper() in PLANNED_AVAILABILITY_CODES:
        return f"{SCHEMES['planned-availability']}/{value.upper()}"
    return value
