"""What the search index gets beyond CKAN's defaults (facet fields) and the facets shown.

CKAN's Solr schema gives multi-valued string fields only through the dynamic field ``vocab_*``
(the catch-all ``*`` is single-valued and not stored), so our facet fields use that prefix:

- ``vocab_commune``: INSEE code of the owner commune (organisation name for an organisation
  without INSEE code, e.g. the Métropole)
- ``vocab_theme``: EU data-theme codes (ENVI, ECON...); ``vocab_theme_uri``: their URIs
- ``vocab_frequency``: EU frequency code (ANNUAL...); ``vocab_frequency_uri``: its URI
- ``vocab_hvd_category``: EU High-Value Dataset category codes (c_c3de25e4...); ``vocab_hvd_category_uri``
- ``vocab_format``: EU file-type codes of the resources (CSV, GEOJSON...); ``vocab_format_uri``
- CKAN's own ``res_format`` (indexed by CKAN as stored) holds the resources' short codes (CSV, GeoJSON, WFS),
  so ``fq=res_format:CSV`` and ``/dataset/?res_format=CSV`` work as on any CKAN portal
- the licence is CKAN's own ``license_id`` field;
- ``spatial`` (and ``vocab_spatial_origin``): the extent place search indexes (schema/spatial.py).
"""

from __future__ import annotations

import json
from typing import Any

import ckan.plugins.toolkit as tk

from ckanext.communes.schema import owner, spatial
from ckanext.communes.schema.values import as_list
from ckanext.communes.vocabularies import get_vocabulary

COMMUNE_FIELD = "vocab_commune"
THEME_FIELD = "vocab_theme"
FREQUENCY_FIELD = "vocab_frequency"
FORMAT_FIELD = "vocab_format"
HVD_FIELD = "vocab_hvd_category"
LICENCE_FIELD = "license_id"

# Facet field -> vocabulary whose codes it holds.
VOCABULARY_OF_FACET = {THEME_FIELD: "data-theme", FREQUENCY_FIELD: "frequency", FORMAT_FIELD: "file-type",
                       HVD_FIELD: "hvd-category"}


def _codes_and_uris(vocabulary: str, values: list[str]) -> tuple[list[str], list[str]]:
    vocab = get_vocabulary(vocabulary)
    codes: list[str] = []
    uris: list[str] = []
    for value in values:
        term = vocab.lookup(value)
        if term is not None and term.code not in codes:
            codes.append(term.code)
            uris.append(term.uri)
    return codes, uris


def before_dataset_index(pkg_dict: dict[str, Any]) -> dict[str, Any]:
    # The validated dict has the scheming fields as top-level values (lists, not JSON strings).
    try:
        dataset = json.loads(pkg_dict.get("validated_data_dict") or "{}")
    except ValueError:
        dataset = {}

    profile = owner.owner_profile(dataset.get("owner_org") or pkg_dict.get("owner_org"))
    if profile is not None:
        pkg_dict[COMMUNE_FIELD] = [profile.insee_code or profile.name]
    spatial.index_extent(pkg_dict, dataset, profile)

    theme_codes, theme_uris = _codes_and_uris("data-theme", as_list(dataset.get("theme")))
    if theme_codes:
        pkg_dict[THEME_FIELD] = theme_codes
        pkg_dict[THEME_FIELD + "_uri"] = theme_uris

    frequency_codes, frequency_uris = _codes_and_uris("frequency", as_list(dataset.get("frequency")))
    if frequency_codes:
        pkg_dict[FREQUENCY_FIELD] = frequency_codes
        pkg_dict[FREQUENCY_FIELD + "_uri"] = frequency_uris

    hvd_codes, hvd_uris = _codes_and_uris("hvd-category", as_list(dataset.get("hvd_category")))
    if hvd_codes:
        pkg_dict[HVD_FIELD] = hvd_codes
        pkg_dict[HVD_FIELD + "_uri"] = hvd_uris

    formats = [res.get("format") for res in dataset.get("resources") or [] if res.get("format")]
    format_codes, format_uris = _codes_and_uris("file-type", formats)
    if format_codes:
        pkg_dict[FORMAT_FIELD] = format_codes
        pkg_dict[FORMAT_FIELD + "_uri"] = format_uris
    return pkg_dict


def facet_titles() -> dict[str, str]:
    """Facets of the dataset search page, in display order, with their (translated) titles."""
    return {
        COMMUNE_FIELD: tk._("Commune"),
        THEME_FIELD: tk._("Theme"),
        LICENCE_FIELD: tk._("Licence"),
        FORMAT_FIELD: tk._("Format"),
        FREQUENCY_FIELD: tk._("Update frequency"),
        HVD_FIELD: tk._("High-value datasets"),
        "vocab_quality_missed": tk._("Quality: missed criterion"),
        "tags": tk._("Keywords"),
    }


def filter_titles() -> dict[str, str]:
    """Titles of the filters a search may still carry without their facet being shown: CKAN's own facets
    that ours replace (a link or an old bookmark to ``/dataset/?organization=bron``). Without them CKAN
    heads the filter's pill with « None »."""
    return {
        "organization": tk._("Organisation"),
        "groups": tk._("Groups"),
        "res_format": tk._("Format"),
        **facet_titles(),
    }


def filter_value_label(field: str, value: str, lang: str = "fr") -> str:
    """Label of an applied filter's value: a facet's label, an organisation's title."""
    if field == "organization":
        profile = owner.owner_profile(value)
        return profile.display_name if profile else value
    return facet_item_label(field, value, lang)


def dataset_facets(facets: dict[str, Any], package_type: str) -> dict[str, Any]:
    # Ours replace CKAN's organization/groups/res_format facets (commune and EU format supersede
    # them); facets added by other plugins are kept after ours.
    replaced = {"organization", "groups", "res_format", "license_id", "tags"}
    ours = facet_titles()
    others = {key: value for key, value in facets.items() if key not in replaced and key not in ours}
    facets.clear()
    facets.update(ours)
    facets.update(others)
    return facets


def facet_item_label(facet: str, value: str, lang: str = "fr") -> str:
    """Human label of a facet value: French vocabulary label, commune name; the value otherwise."""
    if facet in VOCABULARY_OF_FACET:
        return get_vocabulary(VOCABULARY_OF_FACET[facet]).label(value, lang)
    if facet == COMMUNE_FIELD:
        name = owner.commune_name(value)
        if name:
            return name
        profile = owner.owner_profile(value)
        return profile.display_name if profile else value
    return value


def after_dataset_search(search_results: dict[str, Any], search_params: dict[str, Any]) -> dict[str, Any]:
    """Give our facet items their labels as display_name, for API callers and the page alike.
    (IPackageController.after_dataset_search; CKAN then sorts items by display_name.)"""
    for facet, block in (search_results.get("search_facets") or {}).items():
        if facet in VOCABULARY_OF_FACET or facet == COMMUNE_FIELD:
            for item in block.get("items", []):
                item["display_name"] = facet_item_label(facet, item["name"])
    return search_results
