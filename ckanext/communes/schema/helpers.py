"""Template helpers of the dataset schema: commune defaults for the new-dataset form, labels of
vocabulary values and of search facet items."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import ckan.plugins.toolkit as tk

from ckanext.communes.schema import indexing, owner
from ckanext.communes.schema.values import as_list
from ckanext.communes.vocabularies import format_code, get_vocabulary, resolve_file_type


def _form_owner(data: dict[str, Any]) -> owner.OwnerProfile | None:
    """The organisation the dataset form is for: the one in the data, else the first the user may
    create datasets in (the option the organisation select shows first)."""
    org = data.get("owner_org") or data.get("group_id")
    if not org:
        try:
            available = tk.h.organizations_available("create_dataset", include_dataset_count=False)
        except Exception:  # outside a request (no user): no default organisation
            available = []
        org = available[0]["id"] if available else None
    return owner.owner_profile(org) if org else None


def communes_owner_form_defaults(data: dict[str, Any] | None = None) -> dict[str, Any]:
    """Values the form pre-fills from the commune profile: organisation title, publisher (shown,
    never typed), spatial_coverage and contact (lists of subfield dicts, dcat format)."""
    profile = _form_owner(dict(data or {}))
    if profile is None:
        return {}
    spatial = owner.spatial_for(profile)
    contact = owner.contact_for(profile)
    return {
        "organization": profile.display_name,
        "publisher": owner.publisher_for(profile),
        "spatial_coverage": [spatial] if spatial else [],
        "contact": [contact] if contact else [],
    }


def communes_file_type_label(value: str | None) -> str:
    """Short code of a stored format ("CSV", "GeoJSON", "WFS"), also for an EU URI stored before issue #23 and
    not migrated yet; the value itself if unknown."""
    if not value:
        return ""
    term = resolve_file_type(value)
    return format_code(term) if term else value


def communes_file_type_uri(value: str | None) -> str:
    """The EU file-type URI of a stored format (the page links the code to it); "" if unknown."""
    term = resolve_file_type(value) if value else None
    return term.uri if term else ""


def communes_file_type_choices() -> list[dict[str, str]]:
    """EU file types for the resource format select: value the stored code ("GeoJSON"), label
    "GeoJSON — label" (the code alone when the label says no more)."""
    lang = tk.h.lang() or "fr"
    choices = []
    for term in get_vocabulary("file-type").terms:
        code = format_code(term)
        label = term.label(lang)
        choices.append({"value": code, "label": code if label.lower() == code.lower() else f"{code} — {label}"})
    return choices


def communes_scdl_schema(value: str | None) -> dict[str, str] | None:
    """The SCDL schema a conforms_to value designates ({uri, label}), None for another URI."""
    term = get_vocabulary("scdl-schema").lookup(value or "")
    return {"uri": term.uri, "label": term.label(tk.h.lang() or "fr")} if term else None


def communes_as_list(value: Any) -> list[str]:
    """A stored multi-valued field (list or JSON string) as a list, for templates."""
    return as_list(value)


def communes_facet_label(facet: str, value: str) -> str:
    return indexing.facet_item_label(facet, value, tk.h.lang() or "fr")


def communes_filter_title(field: str, titles: dict[str, str] | None = None) -> str:
    """Heading of an applied filter's pill: the facet's title, or ours for a filter without a facet."""
    return (titles or {}).get(field) or indexing.filter_titles().get(field) or field


def communes_filter_value_label(field: str, value: str) -> str:
    return indexing.filter_value_label(field, value, tk.h.lang() or "fr")


def communes_facet_label_function(facet: str) -> Callable[[dict[str, Any]], str]:
    """A ``label_function`` for CKAN's facet_list snippet: the labels of our facets' items, every other
    facet's display_name; all shown whole (without a label_function CKAN cuts them at 22 characters, which
    left « Licence Ouverte /... », « Conforme aux... » and « Toutes les... »)."""
    if facet not in indexing.VOCABULARY_OF_FACET and facet != indexing.COMMUNE_FIELD:
        return lambda item: item.get("display_name") or item.get("name") or ""
    return lambda item: communes_facet_label(facet, item["name"])


def get_helpers() -> dict[str, Any]:
    return {
        "communes_owner_form_defaults": communes_owner_form_defaults,
        "communes_file_type_label": communes_file_type_label,
        "communes_file_type_choices": communes_file_type_choices,
        "communes_file_type_uri": communes_file_type_uri,
        "communes_scdl_schema": communes_scdl_schema,
        "communes_as_list": communes_as_list,
        "communes_facet_label": communes_facet_label,
        "communes_facet_label_function": communes_facet_label_function,
        "communes_filter_title": communes_filter_title,
        "communes_filter_value_label": communes_filter_value_label,
    }
