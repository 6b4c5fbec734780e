"""Actions of the commune profiles (commune_list, commune_show) and the chained organisation actions
that keep protected fields and add the derived obligation to organization_show."""

from __future__ import annotations

import re
from typing import Any

import ckan.plugins.toolkit as tk
from ckan import model

from ckanext.communes.communes import auth as commune_auth
from ckanext.communes.communes import programme, registry
from ckanext.communes.communes.obligation import STATUSES as OBLIGATION_STATUSES
from ckanext.communes.communes.obligation import obligation

# Keys organization_show adds (derived, never stored): dropped when a show output is sent back to update.
DERIVED_KEYS = ("obligation", "convention_state")
DEFAULT_LIMIT = 100
MAX_LIMIT = 1000


# -- derived values -----------------------------------------------------------------------------------

def _int_or_none(value: Any) -> int | None:
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return None


def _float_or_none(value: Any) -> float | None:
    try:
        return float(str(value).strip())
    except (TypeError, ValueError):
        return None


def _org_url(name: str) -> str:
    try:
        return tk.url_for("organization.read", id=name, _external=True)
    except RuntimeError:  # no request/app context (e.g. a script): build it from the site URL
        return f"{tk.config.get('ckan.site_url', '').rstrip('/')}/organization/{name}"


def obligation_of(values: dict[str, Any]) -> dict[str, str]:
    return obligation(values.get("population") or None, values.get("agents_fte") or None).as_dict()


def convention_of(values: dict[str, Any], warning_days: int = programme.DEFAULT_EXPIRY_WARNING_DAYS) -> dict[str, Any]:
    state = programme.convention_state(values.get("convention_signed"), values.get("convention_end"),
                                       warning_days=warning_days)
    return {
        "signed": values.get("convention_signed") or None,
        "end": state["end"],
        "state": state["state"],
        "state_label": programme.convention_state_label(state["state"]),
        "days_left": state["days_left"],
        "url": values.get("convention_url") or None,
    }


def summary_of(group: model.Group, dataset_count: int, warning_days: int) -> dict[str, Any]:
    values = dict(group.extras or {})
    status = values.get("partner_status") or "none"
    return {
        "id": group.id,
        "name": group.name,
        "title": group.title or group.name,
        "url": _org_url(group.name),
        "kind": values.get("kind") or None,
        "insee_code": values.get("insee_code") or None,
        "siren": values.get("siren") or None,
        "official_name": values.get("official_name") or None,
        "population": _int_or_none(values.get("population")),
        "population_year": _int_or_none(values.get("population_year")),
        "agents_fte": _float_or_none(values.get("agents_fte")),
        "obligation": obligation_of(values),
        "partner_status": status,
        "partner_status_label": programme.partner_status_label(status),
        "convention": convention_of(values, warning_days),
        "dataset_count": dataset_count,
    }


def _dataset_counts() -> dict[str, int]:
    """Public datasets per organisation name, in one Solr query."""
    result = tk.get_action("package_search")(
        {"ignore_auth": True},
        {"rows": 0, "facet.field": ["organization"], "facet.limit": -1, "include_private": False},
    )
    return {item["name"]: item["count"] for item in result["search_facets"].get("organization", {}).get("items", [])}


def _commune_orgs(kind: str) -> list[model.Group]:
    groups = (
        model.Session.query(model.Group)
        .filter(model.Group.is_organization.is_(True), model.Group.state == "active")
        .all()
    )
    if kind == "all":
        return [g for g in groups if (g.extras or {}).get("kind") in programme.KINDS]
    return [g for g in groups if (g.extras or {}).get("kind") == kind]


# -- parameters -----------------------------------------------------------------------------------------

def _choices(data_dict: dict[str, Any], key: str, allowed: tuple[str, ...]) -> set[str] | None:
    raw = data_dict.get(key)
    if raw in (None, "", []):
        return None
    items = raw if isinstance(raw, list) else re.split(r"[,\s]+", str(raw))
    chosen = {str(item).strip() for item in items if str(item).strip()}
    unknown = sorted(chosen - set(allowed))
    if unknown:
        raise tk.ValidationError({key: [tk._("Unknown value {value}: use one of {choices}.").format(
            value=", ".join(unknown), choices=", ".join(allowed))]})
    return chosen


def _non_negative_int(data_dict: dict[str, Any], key: str, default: int | None) -> int | None:
    raw = data_dict.get(key)
    if raw in (None, ""):
        return default
    try:
        value = int(str(raw).strip())
    except ValueError:
        value = -1
    if value < 0:
        raise tk.ValidationError({key: [tk._("Enter a whole number of zero or more.")]})
    return value


def _fold(text: Any) -> str:
    return registry.slugify(str(text or ""))


def _matches_text(group: model.Group, query: str) -> bool:
    values = dict(group.extras or {})
    haystack = [group.name, group.title, values.get("official_name"), values.get("insee_code"), values.get("siren")]
    commune = registry.get_commune(values.get("insee_code") or "")
    if commune is not None:
        haystack += list(commune.postcodes) + [f.name for f in commune.former] + list(commune.former_codes)
    folded = _fold(query)
    return any(folded in _fold(item) for item in haystack if item)


# -- public actions ---------------------------------------------------------------------------------

@tk.side_effect_free
def commune_list(context: dict[str, Any], data_dict: dict[str, Any]) -> dict[str, Any]:
    """The communes of the Métropole with their programme status, paginated.

    :param partner_status: none, candidate, phase1, phase2 or generalisation (comma-separated for several)
    :param obliged: obliged, probably_obliged or not_obliged (comma-separated), or true (= obliged)
    :param expiring_within_days: only conventions ending within N days or already ended
    :param q: text searched in names (current and former), INSEE code, SIREN, postcodes
    :param kind: commune (default), metropole or all
    :param limit: default 100, at most 1000; :param offset: default 0
    :returns: {"count": int, "results": [commune summaries]}
    """
    tk.check_access("commune_list", context, data_dict)
    statuses = _choices(data_dict, "partner_status", programme.PARTNER_STATUSES)
    obliged_raw = data_dict.get("obliged")
    if isinstance(obliged_raw, bool) or str(obliged_raw).lower() in ("true", "false"):
        data_dict = dict(data_dict, obliged="obliged" if str(obliged_raw).lower() == "true" else "not_obliged")
    obliged = _choices(data_dict, "obliged", OBLIGATION_STATUSES)
    expiring_within = _non_negative_int(data_dict, "expiring_within_days", None)
    kind = str(data_dict.get("kind") or "commune")
    if kind not in (*programme.KINDS, "all"):
        raise tk.ValidationError({"kind": [tk._("Unknown kind: use commune or metropole.")]})
    limit = min(_non_negative_int(data_dict, "limit", DEFAULT_LIMIT) or 0, MAX_LIMIT)
    offset = _non_negative_int(data_dict, "offset", 0) or 0
    query = str(data_dict.get("q") or "").strip()
    warning_days = expiring_within if expiring_within is not None else programme.DEFAULT_EXPIRY_WARNING_DAYS

    counts = _dataset_counts()
    results = []
    for group in _commune_orgs(kind):
        if query and not _matches_text(group, query):
            continue
        summary = summary_of(group, counts.get(group.name, 0), warning_days)
        if statuses is not None and summary["partner_status"] not in statuses:
            continue
        if obliged is not None and summary["obligation"]["status"] not in obliged:
            continue
        if expiring_within is not None and summary["convention"]["state"] not in ("expiring", "ended"):
            continue
        results.append(summary)
    results.sort(key=lambda item: (item["kind"] != "metropole", _fold(item["title"])))
    return {"count": len(results), "results": results[offset:offset + limit]}


@tk.side_effect_free
def commune_show(context: dict[str, Any], data_dict: dict[str, Any]) -> dict[str, Any]:
    """A commune (or the Métropole) by INSEE code (current or former), SIREN or organisation name:
    identity, obligation with its reason, programme status with the convention's state, dataset count.

    :param id: INSEE code, SIREN, organisation name or id
    """
    tk.check_access("commune_show", context, data_dict)
    key = str(data_dict.get("id") or data_dict.get("insee_code") or "").strip()
    if not key:
        raise tk.ValidationError({"id": [tk._("Missing value")]})
    group = programme.commune_group_for(key)
    if group is None or (group.extras or {}).get("kind") not in programme.KINDS:
        raise tk.ObjectNotFound(tk._("No commune of the Métropole de Lyon matches {id}.").format(id=key))
    counts = _dataset_counts()
    values = dict(group.extras or {})
    result = summary_of(group, counts.get(group.name, 0), programme.DEFAULT_EXPIRY_WARNING_DAYS)
    commune = registry.get_commune(values.get("insee_code") or "")
    result.update({
        "description": group.description or "",
        "image_url": group.image_url or "",
        "website": values.get("website") or None,
        "referent": {
            "name": values.get("referent_name") or None,
            "role": values.get("referent_role") or None,
            "email": values.get("referent_email") or None,
        },
        "programme_notes": values.get("programme_notes") or None,
        "postcodes": list(commune.postcodes) if commune else [],
        "phase_2019": commune.phase_2019 if commune else None,
        "former": [
            {"insee": f.insee, "name": f.name, "until": f.until.isoformat()} for f in commune.former
        ] if commune else [],
        "requested_code_is_former": bool(commune and key in commune.former_codes),
    })
    return result


# -- chained core actions ---------------------------------------------------------------------------

def _prepare_update(context: dict[str, Any], data_dict: dict[str, Any]) -> None:
    """Drop derived keys, keep stored protected values a caller did not send (a commune admin's form
    shows them read-only, so they are absent: nothing is lost), and in the web form turn a
    forbidden change into a field-level error (the API gets the auth function's 403)."""
    group = model.Group.get(str(data_dict.get("id") or ""))
    if group is None or not programme.is_commune_like(group):
        return
    for key in DERIVED_KEYS:
        data_dict.pop(key, None)
    stored = programme.stored_values(group)
    sent = commune_auth.submitted_values(data_dict)
    for name in programme.PROTECTED_FIELDS:
        if name not in sent and name in stored:
            data_dict[name] = stored[name]
    if context.get("for_edit") and not programme.is_programme_operator(context.get("user")):
        changed = programme.changed_protected_fields(commune_auth.submitted_values(data_dict), stored)
        if changed:
            message = tk._("Only programme operators (administrators of the Métropole de Lyon) "
                           "and sysadmins may change this field.")
            raise tk.ValidationError({name: [message] for name in changed})


def _update_checked(next_action: Any, context: dict[str, Any], data_dict: dict[str, Any]) -> Any:
    """Run the update once the programme's protected fields are checked (stored values kept where the
    form did not send them). What datasets derive from the organisation is kept in step by the schema's
    owner sync, which chains the same actions (schema/owner_sync.py); the bilan clears its cache on
    CKAN's ``action_succeeded`` signal (bilan/cache.py)."""
    _prepare_update(context, data_dict)
    return next_action(context, data_dict)


@tk.chained_action
def organization_update(next_action: Any, context: dict[str, Any], data_dict: dict[str, Any]) -> Any:
    return _update_checked(next_action, context, data_dict)


@tk.chained_action
def group_update(next_action: Any, context: dict[str, Any], data_dict: dict[str, Any]) -> Any:
    return _update_checked(next_action, context, data_dict)


@tk.chained_action
@tk.side_effect_free
def organization_show(next_action: Any, context: dict[str, Any], data_dict: dict[str, Any]) -> Any:
    result = next_action(context, data_dict)
    if isinstance(result, dict) and result.get("kind") in programme.KINDS:
        result["obligation"] = obligation_of(result)
        result["convention_state"] = convention_of(result)
    return result


def get_actions() -> dict[str, Any]:
    return {
        "commune_list": commune_list,
        "commune_show": commune_show,
        "organization_update": organization_update,
        "group_update": group_update,
        "organization_show": organization_show,
    }
