"""Per-commune DCAT catalogue: ``/communes/{insee}/catalog.{ttl,rdf,xml,jsonld}``; ``?hvd=1`` on it and on
ckanext-dcat's ``/catalog.{format}``: the High-Value Datasets only.

What a harvester such as data.gouv.fr needs to harvest one commune (ckanext-dcat only has the
portal-wide ``/catalog.{format}``, its issue #166). It reuses ckanext-dcat end to end: the same search
and paging (``ckanext.dcat.datasets_per_page``, ``page`` and ``modified_since`` parameters, Hydra
paging triples), the same auth function (``dcat_catalog_show``) and RDFSerializer.serialize_catalog;
only the catalogue's URI and description differ (a dcat:Catalog per commune, published by it).
"""

from __future__ import annotations

from typing import Any

import ckan.plugins.toolkit as tk
from dateutil.parser import parse as dateutil_parse
from flask import Blueprint, make_response, redirect, request
from rdflib import URIRef

from ckanext.communes import uris
from ckanext.dcat import utils as dcat_utils
from ckanext.dcat.exceptions import RDFProfileException
from ckanext.dcat.logic import DATASETS_PER_PAGE, _pagination_info, _search_ckan_datasets
from ckanext.dcat.processors import RDF_PROFILES_CONFIG_OPTION, RDFSerializer

PROFILE_NAME = "communes_dcat_ap_3"
FORMATS = ("ttl", "rdf", "xml", "jsonld")
# Catalogue endpoints whose query parameters are checked before ckanext-dcat sees them: its own
# /catalog.{format} and ours.
CATALOGUE_ENDPOINTS = frozenset({"dcat.read_catalog", "communes_dcat.catalog", "communes_dcat.catalog_negotiated"})
# Deepest offset a catalogue page may ask of Solr: Solr's `start` is a 32-bit int, and a huge start makes
# it allocate a queue of start + rows documents. A million datasets is far beyond this portal.
MAX_CATALOGUE_OFFSET = 1_000_000

communes_dcat = Blueprint("communes_dcat", __name__)


def catalogue_parameter_error(args: Any) -> str | None:
    """The French (translated) message for a bad `page` or `modified_since` of a catalogue request,
    None when both are fine. ckanext-dcat answers 409 for page=abc and a server error for a page or a
    date too large for Solr or for Python's dates; a bad parameter is the client's error: 400."""
    page = args.get("page")
    if page not in (None, ""):
        per_page = int(tk.config.get("ckanext.dcat.datasets_per_page") or DATASETS_PER_PAGE)
        text = str(page).strip()
        if not text.isdigit() or len(text) > 9 or int(text) < 1:
            return tk._("Invalid page parameter: give a page number (1, 2, 3…).")
        if (int(text) - 1) * per_page > MAX_CATALOGUE_OFFSET:
            return tk._("Invalid page parameter: page {page} is beyond the last page of any catalogue.").format(
                page=text)
    modified_since = args.get("modified_since")
    if modified_since not in (None, ""):
        try:
            moment = dateutil_parse(str(modified_since)[:64])
            moment.isoformat()
        except (ValueError, OverflowError, TypeError):
            return tk._("Invalid modified_since parameter: give an ISO 8601 date, e.g. 2024-01-31.")
    return None


# ckanext-dcat writes the request's q, fq, modified_since and profiles unencoded into the Hydra paging URIs,
# and rdflib refuses to write such a URI in Turtle or N3 (a 500: `/catalog.ttl?q=arbres bron`). RDF/XML and
# JSON-LD write it as it is.
_NOT_IN_A_URI = frozenset('<>" {}|\\^`')
PAGING_PARAMETERS = ("q", "fq", "modified_since", "profiles")


def paging_parameter_error(args: Any, fmt: str | None) -> str | None:
    """The French message for a parameter a Turtle or N3 catalogue cannot write into its paging links."""
    if fmt in ("rdf", "xml", "jsonld"):
        return None
    for name in PAGING_PARAMETERS:
        if any(_NOT_IN_A_URI.intersection(value) for value in args.getlist(name)):
            return tk._("Invalid {name} parameter: a Turtle or N3 catalogue cannot write spaces, quotes or "
                        "other characters a web address may not hold into its page links; ask for the "
                        "RDF/XML (.rdf) or JSON-LD (.jsonld) catalogue.").format(name=name)
    return None


# `?hvd=1`: only the High-Value Datasets (an HVD category indexed, schema/indexing.py); `?hvd=0` or no parameter:
# every dataset. Any other value is the client's error (400), never silently ignored.
HVD_PARAMETER = "hvd"
HVD_FILTER = "vocab_hvd_category:[* TO *]"
PAGING_LINKS = ("first", "last", "next", "previous")


def hvd_parameter_error(args: Any) -> str | None:
    values = args.getlist(HVD_PARAMETER)
    if not values or (len(values) == 1 and values[0] in ("0", "1")):
        return None
    return tk._("Invalid hvd parameter: give hvd=1 to list only the high-value datasets, or hvd=0 (or nothing) "
                "to list every dataset.")


def wants_hvd(args: Any) -> bool:
    return args.get(HVD_PARAMETER) == "1"


def with_hvd_filter(fq: str | None) -> str:
    """The catalogue's Solr filter restricted to HVD datasets (a caller's own ``fq`` kept, both required)."""
    return f"+{HVD_FILTER} +({fq})" if fq and fq.strip() else HVD_FILTER


def _paging_keeps_hvd(pagination_info: dict[str, Any]) -> dict[str, Any]:
    """ckanext-dcat's paging links keep q, fq, modified_since and profiles only: page 2 of the HVD catalogue
    must still be the HVD catalogue."""
    for key in PAGING_LINKS:
        url = pagination_info.get(key)
        if isinstance(url, str) and url:
            pagination_info[key] = f"{url}{'&' if '?' in url else '?'}{HVD_PARAMETER}=1"
    return pagination_info


def serialize_site_hvd_catalog(fmt: str) -> str:
    """ckanext-dcat's dcat_catalog_show for ``/catalog.{format}?hvd=1``: the same auth, search, paging and
    serializer, with the HVD filter added to the search and kept in the paging links."""
    profiles = request.args.get("profiles")
    data_dict: dict[str, Any] = {
        "page": request.args.get("page"), "modified_since": request.args.get("modified_since"),
        "q": request.args.get("q"), "fq": with_hvd_filter(request.args.get("fq")), "format": fmt,
        "profiles": profiles.split(",") if profiles else None,
    }
    context: dict[str, Any] = {}
    tk.check_access("dcat_catalog_show", context, data_dict)
    query = _search_ckan_datasets(context, data_dict)
    pagination_info = _paging_keeps_hvd(_pagination_info(query, data_dict))
    serializer = RDFSerializer(profiles=data_dict.get("profiles"))
    return serializer.serialize_catalog({}, query["results"], _format=fmt, pagination_info=pagination_info)


def _read_site_hvd_catalog(fmt: str) -> Any:
    try:
        output = serialize_site_hvd_catalog(fmt)
    except tk.NotAuthorized:
        return tk.abort(403)
    except (tk.ValidationError, RDFProfileException) as e:
        return tk.abort(409, str(e))
    response = make_response(output)
    response.headers["Content-Type"] = dcat_utils.CONTENT_TYPES[fmt]
    return response


# ckanext-dcat's RDF views look the format up in its content types (KeyError for `.nt`) after rdflib refused
# an unknown one (PluginException for `.foo`): a 500 either way.
RDF_ENDPOINTS = CATALOGUE_ENDPOINTS | {"dcat.read_dataset", "dcat.read_dataset_series"}


@communes_dcat.before_app_request
def check_catalogue_parameters() -> Any:
    if request.endpoint not in RDF_ENDPOINTS:
        return None
    requested_format = (request.view_args or {}).get("_format")
    if requested_format is not None and requested_format not in dcat_utils.CONTENT_TYPES:
        return tk.abort(404, tk._("Unknown RDF format"))
    if request.endpoint not in CATALOGUE_ENDPOINTS:
        return None
    fmt = (request.view_args or {}).get("_format") or dcat_utils.check_access_header() or "ttl"
    message = (catalogue_parameter_error(request.args) or paging_parameter_error(request.args, fmt)
               or hvd_parameter_error(request.args))
    if message is None:
        if request.endpoint == "dcat.read_catalog" and wants_hvd(request.args) and fmt in dcat_utils.CONTENT_TYPES:
            return _read_site_hvd_catalog(fmt)
        return None
    response = make_response(message + "\n", 400)
    response.headers["Content-Type"] = "text/plain; charset=utf-8"
    return response


class CommuneCatalogSerializer(RDFSerializer):
    """ckanext-dcat's serializer with the catalogue node at a commune's catalogue URI instead of the
    site's (RDFSerializer.graph_from_catalog always uses catalog_uri())."""

    def __init__(self, catalog_uri: str, profiles: list[str] | None = None) -> None:
        super().__init__(profiles=profiles)
        self.catalog_ref = URIRef(catalog_uri)

    def graph_from_catalog(self, catalog_dict: dict[str, Any] | None = None) -> URIRef:
        for profile_class in self._profiles:
            profile = profile_class(self.g, compatibility_mode=self.compatibility_mode)
            profile.graph_from_catalog(catalog_dict, self.catalog_ref)
        return self.catalog_ref


def catalogue_profiles() -> list[str]:
    """The configured RDF profiles, with ours last: a commune catalogue needs it for its publisher."""
    profiles = (tk.config.get(RDF_PROFILES_CONFIG_OPTION) or "euro_dcat_ap_3").split()
    if PROFILE_NAME not in profiles:
        profiles.append(PROFILE_NAME)
    return profiles


def _latest_modification(org_id: str) -> str | None:
    result = tk.get_action("package_search")(
        {"ignore_auth": True},
        {"fq": f'owner_org:"{org_id}"', "sort": "metadata_modified desc", "rows": 1, "fl": "metadata_modified"},
    )
    results = result.get("results") or []
    return results[0].get("metadata_modified") if results else None


def serialize_commune_catalog(insee: str, fmt: str, page: Any = None, modified_since: Any = None,
                              hvd: bool = False) -> str:
    """The RDF of a commune's catalogue (one page of its public datasets; ``hvd``: its High-Value Datasets
    only). Raises
    tk.ValidationError for a bad page or date, RDFProfileException for a bad profile setting.
    Must run in a request context (paging URLs are built from the request path)."""
    from ckanext.communes.communes.programme import commune_group_for
    from ckanext.communes.communes.registry import get_commune

    commune = get_commune(insee)
    if commune is None:
        raise tk.ObjectNotFound(tk._("Unknown commune"))
    context: dict[str, Any] = {}
    data_dict: dict[str, Any] = {"page": page, "modified_since": modified_since, "format": fmt}
    tk.check_access("dcat_catalog_show", context, data_dict)

    group = commune_group_for(commune.insee)
    if group is not None:
        # Public, active datasets of the commune only: package_search leaves out private and drafts.
        fq = f'owner_org:"{group.id}"'
        query = _search_ckan_datasets(context, {**data_dict, "fq": with_hvd_filter(fq) if hvd else fq})
    else:
        query = {"count": 0, "results": []}  # a commune without organisation yet: an empty catalogue
    pagination_info = _pagination_info(query, data_dict)
    if hvd:
        pagination_info = _paging_keeps_hvd(pagination_info)

    # The catalogue's home page: the commune's organisation page (the commune's URI names the commune).
    homepage = (
        tk.url_for("organization.read", id=group.name, _external=True) if group is not None
        else tk.config.get("ckan.site_url")
    )
    catalog_dict = {
        # Untagged here; the profile writes them tagged fr and en.
        "title": commune.name,
        "description": commune.name,
        "homepage": homepage,
        "language": uris.LANGUAGE_FRA,
        "communes_insee": commune.insee,
        "modified": _latest_modification(group.id) if group is not None else None,
    }
    serializer = CommuneCatalogSerializer(uris.commune_catalog_uri(commune.insee), profiles=catalogue_profiles())
    return serializer.serialize_catalog(
        catalog_dict, query["results"], _format=fmt, pagination_info=pagination_info
    )


def read_commune_catalog(insee: str, _format: str | None = None) -> Any:
    if _format is None:
        # /communes/{insee}/catalog: content negotiation, Turtle by default.
        _format = dcat_utils.check_access_header() or "ttl"
    if _format not in FORMATS:
        return tk.abort(404, tk._("Unknown RDF format"))

    from ckanext.communes.communes.registry import get_commune

    commune = get_commune(insee)
    if commune is None:
        return tk.abort(404, tk._("Unknown commune"))
    if commune.insee != insee:
        # A former code (69152 Pierre-Bénite -> 69149), an arrondissement of Lyon or a SIREN:
        # the catalogue lives at the current code's URL, permanently.
        target = tk.url_for("communes_dcat.catalog", insee=commune.insee, _format=_format, **request.args)
        return redirect(target, code=301)

    try:
        output = serialize_commune_catalog(
            commune.insee, _format, request.args.get("page"), request.args.get("modified_since"),
            hvd=wants_hvd(request.args),
        )
    except tk.NotAuthorized:
        return tk.abort(403)
    except (tk.ValidationError, RDFProfileException) as e:
        return tk.abort(409, str(e))

    response = make_response(output)
    response.headers["Content-Type"] = dcat_utils.CONTENT_TYPES[_format]
    return response


communes_dcat.add_url_rule(
    "/communes/<insee>/catalog.<_format>", endpoint="catalog", view_func=read_commune_catalog
)
communes_dcat.add_url_rule(
    "/communes/<insee>/catalog", endpoint="catalog_negotiated", view_func=read_commune_catalog
)


def get_blueprints() -> list[Blueprint]:
    return [communes_dcat]
