"""Template helpers of the commune pages and the organisation form."""

from __future__ import annotations

from typing import Any

import ckan.plugins.toolkit as tk
from ckan import model

from ckanext.communes.communes import programme
from ckanext.communes.translation import french_number


def communes_is_programme_operator() -> bool:
    """Whether the logged-in user may change identity and programme fields."""
    user = getattr(tk, "current_user", None)
    name = getattr(user, "name", None) if user is not None and getattr(user, "is_authenticated", False) else None
    return bool(name) and programme.is_programme_operator(name)


def communes_profile(org: dict[str, Any] | str | None) -> dict[str, Any] | None:
    """commune_show for an organisation (dict or name); None when it is not a commune or the Métropole."""
    if not org:
        return None
    key = org.get("id") if isinstance(org, dict) else org
    if isinstance(org, dict) and org.get("kind") not in programme.KINDS:
        return None
    try:
        return tk.get_action("commune_show")({}, {"id": key})
    except (tk.ObjectNotFound, tk.ValidationError):
        return None


def communes_partner_status_label(status: str | None) -> str:
    return programme.partner_status_label(status)


def communes_partner_statuses(field: dict[str, Any] | None = None) -> list[dict[str, str]]:
    """The partner statuses with their labels; also the scheming choices_helper of partner_status
    (scheming passes the field)."""
    return [{"value": s, "label": programme.partner_status_label(s)} for s in programme.PARTNER_STATUSES]


def communes_protected_field_value(field: dict[str, Any], data: dict[str, Any]) -> str:
    """A protected field's value as shown read-only (choice labels for selects). The stored value, not
    the submitted one: after a refused (forged) change the form must not display the forged value."""
    data = data or {}
    group = model.Group.get(str(data["id"])) if data.get("id") else None
    value = programme.stored_values(group).get(field["field_name"]) if group else data.get(field["field_name"])
    if value in (None, ""):
        return ""
    if field.get("choices") or field.get("choices_helper"):
        return str(tk.h.scheming_choices_label(tk.h.scheming_field_choices(field), value))
    return str(value)


def communes_number(value: Any) -> str:
    """A whole number with French thousand separators (narrow no-break space)."""
    return french_number(value)


def get_helpers() -> dict[str, Any]:
    return {
        "communes_is_programme_operator": communes_is_programme_operator,
        "communes_profile": communes_profile,
        "communes_partner_status_label": communes_partner_status_label,
        "communes_partner_statuses": communes_partner_statuses,
        "communes_protected_field_value": communes_protected_field_value,
        "communes_number": communes_number,
    }
