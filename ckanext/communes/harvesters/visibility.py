"""Harvest sources are datasets of type "harvest" to CKAN: without this, package_search would list them,
with their URL and configuration, to anyone who asks for ``fq=dataset_type:harvest``. Operators see every
source; a logged-in user sees the sources of the organisations they belong to; anonymous users none."""

from __future__ import annotations

from typing import Any

import ckan.plugins.toolkit as tk
from ckan import authz, model

from ckanext.communes.communes import programme

HARVEST_SOURCE_TYPE = "harvest"


def _current_user() -> str | None:
    user = getattr(tk, "current_user", None)
    try:
        return user.name if user is not None and user.is_authenticated else None
    except (AttributeError, RuntimeError):
        return None


def restrict_harvest_sources(search_params: dict[str, Any]) -> dict[str, Any]:
    """IPackageController.before_dataset_search: a filter that hides the sources the user may not read."""
    user = _current_user()
    if user and programme.is_programme_operator(user):
        return search_params
    org_ids: list[str] = []
    if user:
        account = model.User.get(user)
        if account is not None:
            org_ids = [g.id for g in account.get_groups("organization")] if not authz.is_sysadmin(user) else []
    visible = f' OR (dataset_type:{HARVEST_SOURCE_TYPE} AND owner_org:({" OR ".join(org_ids)}))' if org_ids else ""
    restriction = f"((*:* -dataset_type:{HARVEST_SOURCE_TYPE}){visible})"
    fq = search_params.get("fq") or ""
    search_params["fq"] = f"{fq} +{restriction}".strip()
    return search_params
