"""Operators teach the licence normaliser (issue #22): a text a source writes -> a registry licence.

- ``communes_licence_alias_create`` {alias, licence_id}: stores the alias with who added it and when (the
  audit of the action: the row, and a log line), refused with a French error naming the field for an unknown
  or « non reconnue » licence id, an empty alias or one over 500 characters, a text that already has an alias
  (whatever its case, accents or spacing) or that the registry already recognises.
- ``communes_licence_alias_list``: every alias, oldest first.

Programme operators only (sysadmins, admins of the Métropole), as every harvest operator action. An alias
applies at the next harvest of every source (the pages are read again: base.routing_fingerprint) and to
``ckan communes licences renormalise``. The table and its cached reading are the licences room's (model.py,
aliases.py); the actions live here because who is an operator is the communes room's knowledge, which the
licences room, on the same layer, may not import.
"""

from __future__ import annotations

import logging
from typing import Any

import ckan.plugins.toolkit as tk
from ckan import model

from ckanext.communes.communes import programme
from ckanext.communes.licences.aliases import forget_operator_aliases
from ckanext.communes.licences.model import LicenceAlias
from ckanext.communes.licences.normalise import text_key
from ckanext.communes.licences.recognise import recognise_licence
from ckanext.communes.licences.registry import UNRECOGNISED_ID, get_licence

log = logging.getLogger(__name__)

MAX_ALIAS_CHARS = 500
MAX_ECHOED_CHARS = 120


def _operators_only(context: dict[str, Any], data_dict: dict[str, Any]) -> dict[str, Any]:
    if programme.is_programme_operator(context.get("user")):
        return {"success": True}
    return {"success": False, "msg": tk._("Only programme operators (administrators of the Métropole de Lyon) "
                                          "and sysadmins manage licence aliases.")}


def communes_licence_alias_create_auth(context: dict[str, Any], data_dict: dict[str, Any]) -> dict[str, Any]:
    return _operators_only(context, data_dict)


def communes_licence_alias_list_auth(context: dict[str, Any], data_dict: dict[str, Any]) -> dict[str, Any]:
    return _operators_only(context, data_dict)


def alias_dict(row: LicenceAlias) -> dict[str, Any]:
    return {"alias": row.alias, "licence_id": row.licence_id, "created_by": row.created_by,
            "created": row.created.isoformat() if row.created else None}


def _shown(value: str) -> str:
    return value if len(value) <= MAX_ECHOED_CHARS else value[:MAX_ECHOED_CHARS] + "…"


def _checked(data_dict: dict[str, Any]) -> tuple[str, str, str]:
    errors: dict[str, list[str]] = {}
    alias = data_dict.get("alias")
    licence_id = data_dict.get("licence_id")
    key = ""
    if alias is not None and not isinstance(alias, str):
        errors["alias"] = [tk._("The alias is a text (a licence as a source writes it).")]
    elif not alias or not alias.strip():
        errors["alias"] = [tk._("The alias is empty: give the licence text as the source writes it.")]
    elif len(alias.strip()) > MAX_ALIAS_CHARS:
        errors["alias"] = [tk._("The alias is longer than {max} characters.").format(max=MAX_ALIAS_CHARS)]
    else:
        alias = alias.strip()
        key = text_key(alias)
        existing = model.Session.query(LicenceAlias).filter(LicenceAlias.alias_key == key).first()
        recognised = recognise_licence(alias).licence
        if existing is not None:
            errors["alias"] = [tk._('An alias already exists for this text: "{alias}" → {licence}.').format(
                alias=_shown(existing.alias), licence=existing.licence_id)]
        elif recognised is not None and recognised.id != UNRECOGNISED_ID:
            errors["alias"] = [tk._("The portal already recognises this text as the licence {licence}.").format(
                licence=recognised.id)]
    if not isinstance(licence_id, str) or get_licence(licence_id.strip()) is None:
        shown = _shown(licence_id) if isinstance(licence_id, str) else ""
        errors["licence_id"] = [tk._('Unknown licence "{licence}": choose a licence from the list.').format(
            licence=shown)]
    elif licence_id.strip() == UNRECOGNISED_ID:
        errors["licence_id"] = [tk._("An alias names a licence: « Licence non reconnue » is not one.")]
    if errors:
        raise tk.ValidationError(errors)
    return str(alias), key, str(licence_id).strip()


def communes_licence_alias_create(context: dict[str, Any], data_dict: dict[str, Any]) -> dict[str, Any]:
    """A licence text as a source writes it -> the registry licence it designates (operators only)."""
    tk.check_access("communes_licence_alias_create", context, data_dict)
    alias, key, licence_id = _checked(data_dict)
    user = model.User.get(context.get("user") or "")
    row = LicenceAlias(alias=alias, alias_key=key, licence_id=licence_id,
                       created_by=user.name if user is not None else str(context.get("user") or ""))
    model.Session.add(row)
    model.Session.commit()
    forget_operator_aliases()
    log.info("Licence alias %r -> %s added by %s", alias, licence_id, row.created_by)
    return alias_dict(row)


@tk.side_effect_free
def communes_licence_alias_list(context: dict[str, Any], data_dict: dict[str, Any]) -> list[dict[str, Any]]:
    tk.check_access("communes_licence_alias_list", context, data_dict)
    return [alias_dict(row) for row in model.Session.query(LicenceAlias).order_by(LicenceAlias.id)]


def get_actions() -> dict[str, Any]:
    return {"communes_licence_alias_create": communes_licence_alias_create,
            "communes_licence_alias_list": communes_licence_alias_list}


def get_auth_functions() -> dict[str, Any]:
    return {"communes_licence_alias_create": communes_licence_alias_create_auth,
            "communes_licence_alias_list": communes_licence_alias_list_auth}
