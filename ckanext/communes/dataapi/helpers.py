"""Template helpers of the DataStore load status."""

from __future__ import annotations

import json
from typing import Any

import ckan.plugins.toolkit as tk


def load_error(resource: dict[str, Any]) -> str | None:
    """The reason the last DataStore load of this resource failed (the loader's French sentence), for the
    people who may edit the resource; None when it did not fail, when xloader is not loaded, or for others."""
    if "xloader_status" not in tk.h:
        return None
    try:
        tk.check_access("resource_update", {"user": tk.g.user}, {"id": resource.get("id")})
        status = tk.get_action("xloader_status")({"ignore_auth": True}, {"resource_id": resource.get("id")})
    except (tk.NotAuthorized, tk.ObjectNotFound):
        return None
    if status.get("status") != "error":
        return None
    error = status.get("error")
    if isinstance(error, dict):
        error = error.get("message")
    if isinstance(error, str):
        try:  # xloader stores str(error); a JSON object from another writer carries it in "message"
            decoded = json.loads(error)
            error = decoded.get("message", error) if isinstance(decoded, dict) else error
        except ValueError:
            pass
    return str(error) if error else tk._("The data could not be loaded.")


def get_helpers() -> dict[str, Any]:
    return {"communes_datastore_load_error": load_error}
