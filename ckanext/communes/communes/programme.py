"""The Métropole's open-data programme: who operates it, which fields it owns, convention state.

Programme operators are sysadmins and the admins of the Métropole's organisation
(config `ckanext.communes.metropole_org_name`).
"""

from __future__ import annotations

import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import ckan.plugins.toolkit as tk
from ckan import authz, model

from ckanext.communes.communes import registry
from ckanext.communes.translation import N_, gettext

# Organisation fields (extras) only sysadmins and programme operators may change.
IDENTITY_FIELDS: tuple[str, ...] = (
    "name", "insee_code", "siren", "official_name", "kind", "population", "population_year", "agents_fte",
)
PROGRAMME_FIELDS: tuple[str, ...] = (
    "partner_status", "convention_signed", "convention_end", "convention_url", "programme_notes",
)
# Bookkeeping of `ckan communes seed`: the values it wrote last time.
INTERNAL_FIELDS: tuple[str, ...] = ("seeded_values",)
# Columns of the group table that decide whether a commune exists and is one: CKAN's default group
# schema lets an organisation's admins set them (group_dict_save writes every column it is given), so a
# commune admin could otherwise delete the commune, or turn it into a plain group, by a patch.
LIFECYCLE_FIELDS: tuple[str, ...] = ("state", "is_organization", "type", "approval_status")
PROTECTED_FIELDS: tuple[str, ...] = IDENTITY_FIELDS + PROGRAMME_FIELDS + INTERNAL_FIELDS + LIFECYCLE_FIELDS
# Extras of the organisation schema (everything but core title/name/description/image_url).
EXTRA_FIELDS: tuple[str, ...] = IDENTITY_FIELDS[1:] + PROGRAMME_FIELDS + INTERNAL_FIELDS + (
    "referent_name", "referent_role", "referent_email", "website",
)
# Extras that make a group a commune or the Métropole, whatever its is_organization flag says.
COMMUNE_MARKERS: tuple[str, ...] = ("kind", "insee_code", "siren")

KINDS: tuple[str, ...] = ("commune", "metropole")
PARTNER_STATUSES: tuple[str, ...] = ("none", "candidate", "phase1", "phase2", "generalisation")
DEFAULT_EXPIRY_WARNING_DAYS = 60


def metropole_org_name() -> str:
    return tk.config.get("ckanext.communes.metropole_org_name") or "metropole-de-lyon"


def _user(user_name_or_obj: Any) -> model.User | None:
    if user_name_or_obj is None or user_name_or_obj == "":
        return None
    if isinstance(user_name_or_obj, model.User):
        return user_name_or_obj
    if isinstance(user_name_or_obj, dict):
        user_name_or_obj = user_name_or_obj.get("id") or user_name_or_obj.get("name")
    name = getattr(user_name_or_obj, "name", user_name_or_obj)  # e.g. flask-login's current_user
    return model.User.get(str(name)) if name else None


def is_programme_operator(user_name_or_obj: Any) -> bool:
    """Sysadmin, or admin of the Métropole's organisation."""
    user = _user(user_name_or_obj)
    if user is None or user.state != "active":
        return False
    if user.sysadmin:
        return True
    metropole = model.Group.get(metropole_org_name())
    if metropole is None or metropole.state != "active" or not metropole.is_organization:
        return False
    return authz.users_role_for_group_or_org(metropole.id, user.name) == "admin"


def org_by_extra(key: str, value: str) -> model.Group | None:
    """The oldest active organisation whose extra `key` equals `value` (extras are a JSONB column)."""
    return (
        model.Session.query(model.Group)
        .filter(model.Group.extras[key].astext == value, model.Group.state == "active",
                model.Group.is_organization.is_(True))
        .order_by(model.Group.created)
        .first()
    )


def commune_group_for(insee_or_org: Any) -> model.Group | None:
    """The organisation (model object) of a commune or of the Métropole.

    Accepts an INSEE code (current, former, arrondissement), a SIREN, an organisation name/id or an
    organisation dict."""
    if isinstance(insee_or_org, dict):
        insee_or_org = insee_or_org.get("id") or insee_or_org.get("name")
    code = str(insee_or_org or "").strip()
    if not code:
        return None
    if code.replace(" ", "") == registry.METROPOLE_SIREN:
        group = org_by_extra("siren", registry.METROPOLE_SIREN) or model.Group.get(metropole_org_name())
        return group if group is not None and group.state == "active" else None
    commune = registry.get_commune(code)
    if commune is not None:
        return org_by_extra("insee_code", commune.insee)
    group = model.Group.get(code)
    if group is not None and group.is_organization and group.state == "active":
        return group
    return None


def commune_org_for(insee_or_org: Any) -> dict[str, Any] | None:
    """The organisation dict (organization_show) of a commune, found by INSEE code (current or former),
    SIREN or organisation name/id; None when no such organisation exists."""
    group = commune_group_for(insee_or_org)
    if group is None:
        return None
    return tk.get_action("organization_show")(
        {"ignore_auth": True},
        {"id": group.id, "include_datasets": False, "include_users": False,
         "include_groups": False, "include_tags": False, "include_followers": False},
    )


# Beyond this many digits a value is not a count of inhabitants or agents: compared as text, so that
# "1e1000000" is not expanded into a million digits.
MAX_NUMBER_DIGITS = 30


def normalise_value(value: Any) -> str:
    """A comparable form of a field value: the API may send 42850 where the database holds "42850",
    and false or "false" where the is_organization column holds False."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (datetime.date, datetime.datetime)):
        return value.isoformat()[:10]
    text = str(value).strip()
    if text.lower() in ("true", "false"):
        return text.lower()
    try:
        number = Decimal(text)
    except (InvalidOperation, ValueError):
        return text
    if not number.is_finite() or abs(number.adjusted()) > MAX_NUMBER_DIGITS:
        return text
    return format(number.normalize(), "f")


def is_commune_like(group: model.Group) -> bool:
    """An organisation, or a group that carries a commune's identity (one a sysadmin turned into a
    plain group keeps its extras): the protected-field rules apply to both."""
    extras = group.extras or {}
    return bool(group.is_organization or any(extras.get(key) for key in COMMUNE_MARKERS))


def changed_protected_fields(data_dict: dict[str, Any], stored: dict[str, Any]) -> list[str]:
    """Protected fields present in data_dict whose value differs from the stored one."""
    return [
        name for name in PROTECTED_FIELDS
        if name in data_dict and normalise_value(data_dict[name]) != normalise_value(stored.get(name))
    ]


def stored_values(group: model.Group) -> dict[str, Any]:
    """Core name plus the active extras of an organisation, straight from the database."""
    values: dict[str, Any] = dict(group.extras or {})
    values["name"] = group.name
    for column in LIFECYCLE_FIELDS:
        values[column] = getattr(group, column)
    return values


FIELD_LABELS = {
    "name": N_("URL name"),
    "insee_code": N_("INSEE code"),
    "siren": N_("SIREN"),
    "official_name": N_("Official name"),
    "kind": N_("Kind"),
    "population": N_("Municipal population"),
    "population_year": N_("Population vintage"),
    "agents_fte": N_("Agents (full-time equivalent)"),
    "partner_status": N_("Partner status"),
    "convention_signed": N_("Convention signature date"),
    "convention_end": N_("Convention end date"),
    "convention_url": N_("Convention document"),
    "programme_notes": N_("Programme notes"),
    "seeded_values": N_("Seeded values"),
    "state": N_("State (active or deleted)"),
    "is_organization": N_("Organisation flag"),
    "type": N_("Organisation type"),
    "approval_status": N_("Approval status"),
}


def field_label(field_name: str) -> str:
    return gettext(FIELD_LABELS.get(field_name, field_name))


PARTNER_STATUS_LABELS = {
    "none": N_("Not a partner"),
    "candidate": N_("Candidate"),
    "phase1": N_("Phase 1 (pilot)"),
    "phase2": N_("Phase 2"),
    "generalisation": N_("Generalisation"),
}


def partner_status_label(status: str | None) -> str:
    return gettext(PARTNER_STATUS_LABELS.get(status or "none", status or ""))


def _date(value: Any) -> datetime.date | None:
    if isinstance(value, datetime.datetime):
        return value.date()
    if isinstance(value, datetime.date):
        return value
    try:
        return datetime.date.fromisoformat(str(value or "").strip()[:10])
    except ValueError:
        return None


def default_convention_end(signed: datetime.date) -> datetime.date:
    """One year after signature (29 February signs end on 28 February)."""
    try:
        return signed.replace(year=signed.year + 1)
    except ValueError:
        return signed.replace(year=signed.year + 1, day=28)


def convention_state(
    signed: Any, end: Any, today: datetime.date | None = None,
    warning_days: int = DEFAULT_EXPIRY_WARNING_DAYS,
) -> dict[str, Any]:
    """State of a framework convention: none (no convention), active, expiring (ends within
    warning_days) or ended; with the effective end date and the days left (negative once ended)."""
    today = today or datetime.date.today()
    signed_date, end_date = _date(signed), _date(end)
    if end_date is None and signed_date is not None:
        end_date = default_convention_end(signed_date)
    if end_date is None:
        return {"state": "none", "end": None, "days_left": None}
    days_left = (end_date - today).days
    if days_left < 0:
        state = "ended"
    elif days_left <= warning_days:
        state = "expiring"
    else:
        state = "active"
    return {"state": state, "end": end_date.isoformat(), "days_left": days_left}


CONVENTION_STATE_LABELS = {
    "none": N_("No convention"),
    "active": N_("Convention in force"),
    "expiring": N_("Convention ending soon"),
    "ended": N_("Convention ended"),
}


def convention_state_label(state: str) -> str:
    return gettext(CONVENTION_STATE_LABELS.get(state, state))
