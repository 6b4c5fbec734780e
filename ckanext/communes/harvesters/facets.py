"""Labels of the harvest source search's facets (``/harvest``): ckanext-harvest facets on ``frequency``
and ``source_type`` and shows their raw values (``WEEKLY``, ``communes_dcat``). Each item gets, as its
``display_name``, what the source form shows: the frequency's name and the harvester's title, in the
page's language."""

from __future__ import annotations

from typing import Any

import ckan.plugins.toolkit as tk

FREQUENCY_FACET = "frequency"
SOURCE_TYPE_FACET = "source_type"


def _source_type_titles() -> dict[str, str]:
    from ckan import plugins as p

    from ckanext.harvest.interfaces import IHarvester

    return {info["name"]: info.get("title") or info["name"]
            for info in (harvester.info() for harvester in p.PluginImplementations(IHarvester))}


def label_source_facets(search_results: dict[str, Any]) -> dict[str, Any]:
    """IPackageController.after_dataset_search: display names for the two harvest facets."""
    facets = search_results.get("search_facets") or {}
    if FREQUENCY_FACET in facets:
        for item in facets[FREQUENCY_FACET].get("items", []):
            # The labels of ckanext-harvest's form (helpers.harvest_frequencies): "MANUAL" -> _("Manual").
            item["display_name"] = tk._(str(item["name"]).title())
    if SOURCE_TYPE_FACET in facets:
        titles = _source_type_titles()
        for item in facets[SOURCE_TYPE_FACET].get("items", []):
            item["display_name"] = titles.get(item["name"], item["name"])
    return search_results
