"""Authorisation of the bilan's actions: the figures are public (anyone, also anonymous, may read them
and their snapshots); only programme operators (sysadmins, admins of the Métropole's organisation) take
a snapshot."""

from __future__ import annotations

from typing import Any

import ckan.plugins.toolkit as tk

from ckanext.communes.communes import programme

AuthResult = dict[str, Any]


@tk.auth_allow_anonymous_access
def public_read(context: dict[str, Any], data_dict: dict[str, Any] | None) -> AuthResult:
    return {"success": True}


def communes_bilan_snapshot_create(context: dict[str, Any], data_dict: dict[str, Any] | None) -> AuthResult:
    if programme.is_programme_operator(context.get("user")):
        return {"success": True}
    return {"success": False, "msg": tk._("Only the programme's operators (administrators of the Métropole's "
                                          "organisation) can take a snapshot of the bilan.")}


def get_auth_functions() -> dict[str, Any]:
    return {
        "communes_bilan": public_read,
        "communes_bilan_snapshot_list": public_read,
        "communes_bilan_snapshot_show": public_read,
        "communes_bilan_snapshot_compare": public_read,
        "communes_bilan_snapshot_create": communes_bilan_snapshot_create,
    }
