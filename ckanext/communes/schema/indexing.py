"""What the search index gets beyond CKAN's defaults (facet fields) and the facets shown."""

from __future__ import annotations

from typing import Any


def before_dataset_index(pkg_dict: dict[str, Any]) -> dict[str, Any]:
    return pkg_dict


def dataset_facets(facets: dict[str, Any], package_type: str) -> dict[str, Any]:
    return facets
