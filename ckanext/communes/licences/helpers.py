"""Template helpers of the licences concern (and of the vocabularies, merged here because
plugin.py collects helpers from communes/, schema/ and licences/)."""

from __future__ import annotations

import json
from typing import Any

import ckan.plugins.toolkit as tk

from ckanext.communes.licences import policy
from ckanext.communes.licences.normalise import normalize_licence
from ckanext.communes.licences.registry import NOT_SPECIFIED_ID, UNRECOGNISED_ID, all_licences, licence_rdf_uri

# Bootstrap 5 badge classes (CKAN 2.12's theme) per compliance value.
MARK_CLASSES = {
    "authorised": "badge bg-success",
    "open_not_listed": "badge bg-warning text-dark",
    "not_open": "badge bg-danger",
    "unspecified": "badge bg-secondary",
    "unknown": "badge bg-secondary",
}


def _mark_label(compliance: str) -> str:
    labels = {
        "authorised": tk._("Authorised for public bodies (CRPA D323-2-1)"),
        "open_not_listed": tk._("Open but not on the legal list"),
        "not_open": tk._("Not open"),
        "unspecified": tk._("No licence specified"),
        "unknown": tk._("Licence not recognised"),
    }
    return labels[compliance]


def _mark_explanation(compliance: str) -> str:
    explanations = {
        "authorised": tk._("An administration may set this licence on its data (CRPA art. D323-2-1)."),
        "open_not_listed": tk._(
            "An open licence, but not one an administration may set on its data without homologation "
            "(CRPA art. D323-2-1)."
        ),
        "not_open": tk._("This licence restricts reuse: the data are not open data."),
        "unspecified": tk._("The publisher did not specify a licence."),
        "unknown": tk._("The licence given by the source is not in the portal's licence list."),
    }
    return explanations[compliance]


def communes_licence_compliance(pkg_dict: dict[str, Any]) -> str:
    """Compliance of a dataset's licence, computed from its license_id (so it is right even for
    datasets saved before the registry changed)."""
    return policy.compliance_of_value((pkg_dict or {}).get("license_id"))


def communes_licence_mark(pkg_dict: dict[str, Any]) -> dict[str, str]:
    """What the dataset page shows next to the licence: compliance, label, explanation, CSS classes."""
    compliance = communes_licence_compliance(pkg_dict)
    return {
        "compliance": compliance,
        "label": _mark_label(compliance),
        "explanation": _mark_explanation(compliance),
        "css_class": MARK_CLASSES[compliance],
    }


def communes_licence_form_groups(selected: str | None = None) -> list[dict[str, Any]]:
    """Licence select options in groups, the authorised ones first. A current value outside the
    registry (harvested as-is) is kept as an option so that editing does not silently drop it."""
    groups: dict[str, list[dict[str, str]]] = {
        "authorised": [],
        "open_not_listed": [],
        "not_open": [],
        "software": [],
    }
    for licence in all_licences():
        if licence.id == UNRECOGNISED_ID and selected != UNRECOGNISED_ID:
            continue  # set by harvesting only; kept as an option where it is the current value
        if licence.domain == "software":
            key = "software"
        elif licence.id in (NOT_SPECIFIED_ID, UNRECOGNISED_ID):
            key = "not_open"  # neither is open, and the policy flags them "unknown", which has no group
        else:
            key = policy.compliance_of(licence, licence.id)
        groups[key].append({"value": licence.id, "text": licence.title})
    labels = {
        "authorised": tk._("Authorised for public bodies (CRPA D323-2-1)"),
        "open_not_listed": tk._("Open licences not on the legal list"),
        "not_open": tk._("Licences that are not open"),
        "software": tk._("Software licences (listed for software only)"),
    }
    result = [{"key": key, "label": labels[key], "options": options} for key, options in groups.items() if options]
    if selected and normalize_licence(selected).licence is None:
        result.append({"key": "unknown", "label": tk._("Licence given by the source"),
                       "options": [{"value": selected, "text": selected}]})
    return result


def communes_licence_source_text(pkg_dict: dict[str, Any]) -> str:
    """What the source wrote as licence, for a dataset stored under « licence non reconnue » (kept by the
    harvest in harvest_unmapped); "" otherwise. Shown escaped on the dataset page."""
    pkg_dict = pkg_dict or {}
    if pkg_dict.get("license_id") != UNRECOGNISED_ID:
        return ""
    try:
        unmapped = json.loads(pkg_dict.get("harvest_unmapped") or "{}")
    except (TypeError, ValueError):
        return ""
    texts = unmapped.get("license_id") if isinstance(unmapped, dict) else None
    if not isinstance(texts, list):
        return ""
    return " ; ".join(str(text) for text in texts if isinstance(text, str) and text.strip())[:500]


def communes_licence_policy() -> str:
    """The configured licence policy: enforce, warn or off."""
    return policy.licence_policy()


def communes_licence_rdf_uri(license_id: str | None) -> str:
    """URI for dct:license of a licence id (EU NAL URI, else canonical URL); "" if unknown."""
    licence = normalize_licence(license_id).licence
    return licence_rdf_uri(licence) if licence else ""


def get_helpers() -> dict[str, Any]:
    return {
        "communes_licence_compliance": communes_licence_compliance,
        "communes_licence_mark": communes_licence_mark,
        "communes_licence_form_groups": communes_licence_form_groups,
        "communes_licence_policy": communes_licence_policy,
        "communes_licence_source_text": communes_licence_source_text,
        "communes_licence_rdf_uri": communes_licence_rdf_uri,
    }
