"""Template helpers of the DataStore load status."""

from __future__ import annotations

import json
from typing import Any

import ckan.plugins.toolkit as tk


def load_error(resource: dict[str, Any]) -> str | None:
    """Why the last DataStore load of this resource failed, in French (the loader's reason: ours are French,
    loader_guard.py; xloader's own are English), for the people who may edit the resource; None when it did
    not fail, when xloader is not loaded, or for others."""
    if "xloader_status" not in tk.h:
        return None
    try:
        tk.check_access("resource_update", {"user": tk.g.user}, {"id": resource.get("id")})
        status = tk.get_action("xloader_status")({"ignore_auth": True}, {"resource_id": resource.get("id")})
    except (tk.NotAuthorized, tk.ObjectNotFound):
        return None
    if status.get("status") != "error":
        return None
    return tk._("The data of this resource could not be loaded into the DataStore: {reason}").format(
        reason=_reason(status.get("error")))


def _reason(error: Any) -> str:
    """The loader's reason in the reader's language: ours are a msgid and its values (loader_guard.py),
    xloader's own an English sentence."""
    if isinstance(error, str):
        try:
            error = json.loads(error)
        except ValueError:
            return error
    if isinstance(error, dict):
        msgid, values = error.get("msgid"), error.get("values")
        if isinstance(msgid, str) and isinstance(values, dict):
            try:
                return tk._(msgid).format(**values)
            except (KeyError, IndexError, ValueError):
                return msgid.format(**values)
        error = error.get("message")
    return str(error) if error else tk._("no reason was recorded.")


def get_helpers() -> dict[str, Any]:
    return {"communes_datastore_load_error": load_error}
