"""Authorisation of commune profiles and programme fields.

- Programme operators (sysadmins, admins of the Métropole's organisation) may create, update and delete
  any organisation, including every field.
- Other users keep CKAN's rules (an organisation's admins edit it), except that they may not change a
  protected field (identity, programme): the data_dict is compared with the stored organisation, so
  sending a protected field unchanged (or not at all) is fine, changing it is refused.
- Operators also manage the members of every organisation (a commune's admins manage their own, as in
  CKAN): they appoint a commune's first admin once its convention is signed.
- commune_list / commune_show are public.
"""

from __future__ import annotations

from typing import Any

import ckan.logic.auth as logic_auth
import ckan.plugins.toolkit as tk
from ckan import model

from ckanext.communes.communes import programme

AuthResult = dict[str, Any]


def submitted_values(data_dict: dict[str, Any]) -> dict[str, Any]:
    """Fields as the update would store them: top-level keys, plus `extras` entries (a client can
    also send a field as {"key": "siren", "value": ...} in extras)."""
    values: dict[str, Any] = {}
    extras = data_dict.get("extras")
    if isinstance(extras, list):
        for extra in extras:
            if isinstance(extra, dict) and "key" in extra and not extra.get("deleted"):
                values[str(extra["key"])] = extra.get("value")
    values.update({key: value for key, value in data_dict.items() if key != "extras"})
    return values


def protected_change_refusal(group: model.Group, data_dict: dict[str, Any]) -> AuthResult | None:
    """The refusal for a non-operator whose data_dict changes protected fields; None if it changes none."""
    changed = programme.changed_protected_fields(submitted_values(data_dict), programme.stored_values(group))
    if not changed:
        return None
    fields = ", ".join(programme.field_label(name) for name in changed)
    return {
        "success": False,
        "msg": tk._(
            "Only programme operators (administrators of the Métropole de Lyon) and sysadmins may change "
            "these fields: {fields}."
        ).format(fields=fields),
    }


@tk.chained_auth_function
def update_organisation(next_auth: Any, context: dict[str, Any], data_dict: dict[str, Any]) -> AuthResult:
    if programme.is_programme_operator(context.get("user")):
        return {"success": True}
    result = next_auth(context, data_dict)
    if not result.get("success"):
        return result
    group = logic_auth.get_group_object(context, data_dict)
    if programme.is_commune_like(group):
        refusal = protected_change_refusal(group, data_dict or {})
        if refusal:
            return refusal
    return result


@tk.chained_auth_function
def organization_create(next_auth: Any, context: dict[str, Any], data_dict: dict[str, Any]) -> AuthResult:
    if programme.is_programme_operator(context.get("user")):
        return {"success": True}
    return {"success": False, "msg": tk._("Only programme operators and sysadmins may create organisations.")}


@tk.chained_auth_function
def group_create(next_auth: Any, context: dict[str, Any], data_dict: dict[str, Any]) -> AuthResult:
    """A plain group stays CKAN's business; a group created with another type (group_create accepts
    "type": "organization") or with a commune's identity would pass for a commune: operators only."""
    data_dict = data_dict or {}
    sent = submitted_values(data_dict)
    looks_like_commune = (data_dict.get("type") or "group") != "group" or any(
        sent.get(key) for key in programme.COMMUNE_MARKERS)
    if looks_like_commune and not programme.is_programme_operator(context.get("user")):
        return {"success": False, "msg": tk._("Only programme operators and sysadmins may create organisations.")}
    return next_auth(context, data_dict)


@tk.chained_auth_function
def delete_organisation(next_auth: Any, context: dict[str, Any], data_dict: dict[str, Any]) -> AuthResult:
    group = logic_auth.get_group_object(context, data_dict)
    if not programme.is_commune_like(group):
        return next_auth(context, data_dict)
    if programme.is_programme_operator(context.get("user")):
        return {"success": True}
    return {"success": False, "msg": tk._("Only programme operators and sysadmins may delete organisations.")}


@tk.chained_auth_function
def manage_members(next_auth: Any, context: dict[str, Any], data_dict: dict[str, Any]) -> AuthResult:
    """Operators manage the members of any organisation; everyone else keeps CKAN's rule."""
    if programme.is_programme_operator(context.get("user")):
        group = logic_auth.get_group_object(context, data_dict)
        if programme.is_commune_like(group):
            return {"success": True}
    return next_auth(context, data_dict)


@tk.auth_allow_anonymous_access
def commune_list(context: dict[str, Any], data_dict: dict[str, Any]) -> AuthResult:
    return {"success": True}


@tk.auth_allow_anonymous_access
def commune_show(context: dict[str, Any], data_dict: dict[str, Any]) -> AuthResult:
    return {"success": True}


def get_auth_functions() -> dict[str, Any]:
    return {
        # One rule under each name CKAN checks: group_* run on an organisation's id use the organisation's
        # schema; member_create is where organization_member_create and member_delete end; the web UI's
        # members page asks group_edit_permissions.
        "organization_update": update_organisation,
        "group_update": update_organisation,
        "organization_create": organization_create,
        "group_create": group_create,
        "organization_delete": delete_organisation,
        "group_delete": delete_organisation,
        "organization_member_create": manage_members,
        "organization_member_delete": manage_members,
        "group_member_create": manage_members,
        "group_member_delete": manage_members,
        "member_create": manage_members,
        "member_delete": manage_members,
        "group_edit_permissions": manage_members,
        "commune_list": commune_list,
        "commune_show": commune_show,
    }
