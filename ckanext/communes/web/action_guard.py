"""CKAN's own actions and auth functions that answer a 500 where a refusal or a field error is due, each
found by walking the action registry with anonymous callers (tests/test_action_registry_auth.py):

- ``package_collaborator_list`` / ``_create`` / ``_delete``: their auth functions ``assert`` a user
  object and the dataset (an unknown id is now a 404). CKAN means to refuse anonymous callers before any auth
  function that does not allow them, but over HTTP the context's ``auth_user_obj`` is flask-login's anonymous
  user, which is truthy: the function runs, the assertion fails. Anonymous callers are refused here.
- ``activity_show``: its auth function reads ``data_dict["include_data"]``, a parameter the action does
  not even take, so every call without it was a 500. Missing, it is read as true (the activity shown
  does hold the object's data): the stricter check.
- ``group_autocomplete`` / ``organization_autocomplete``: ``data_dict["q"]`` (KeyError) without ``q``.
- The dataset and resource writes: ``resources`` that are not a list of objects, a ``state`` CKAN does not
  know, a core field or a resource field that is not text, a title or URL too long for the search index
  (Solr refuses a "string" value over 32,766 bytes), a ``package_revise`` whose ``match`` or ``update`` is
  not an object, an ``order`` that is not a list of ids: each a 500 from CKAN, each now a field error
  (409) naming the field, before CKAN reads anything. Found by probing every route of
  harvesters/protection.py with junk as each role. (An identifier that is not text: api_guard.py.)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import ckan.plugins.toolkit as tk
from ckan import model

AuthResult = dict[str, Any]
Context = dict[str, Any]
DataDict = dict[str, Any]


def _known_user(context: Context) -> bool:
    user = context.get("user")
    return bool(user) and model.User.get(str(user)) is not None


@tk.chained_auth_function
def collaborators(next_auth: Any, context: Context, data_dict: DataDict) -> AuthResult:
    if not _known_user(context):
        return {"success": False, "msg": tk._("Log in to see or manage the collaborators of a dataset.")}
    # CKAN's functions assert the dataset too: an unknown id is a 404, not a 500.
    package_id = (data_dict or {}).get("id")
    if not isinstance(package_id, str) or model.Package.get(package_id) is None:
        raise tk.ObjectNotFound(tk._("Dataset not found"))
    return next_auth(context, data_dict)


@tk.chained_auth_function
@tk.auth_allow_anonymous_access  # kept as CKAN has it: the activity of a public dataset is public
def activity_show(next_auth: Any, context: Context, data_dict: DataDict) -> AuthResult:
    return next_auth(context, {"include_data": True, **(data_dict or {})})


def _autocomplete_query(data_dict: DataDict) -> None:
    query = (data_dict or {}).get("q")
    if not isinstance(query, str) or not query.strip():
        raise tk.ValidationError({"q": [tk._("Missing value")]})


@tk.chained_action
@tk.side_effect_free
def group_autocomplete(up_func: Any, context: Context, data_dict: DataDict) -> Any:
    _autocomplete_query(data_dict)
    return up_func(context, data_dict)


@tk.chained_action
@tk.side_effect_free
def organization_autocomplete(up_func: Any, context: Context, data_dict: DataDict) -> Any:
    _autocomplete_query(data_dict)
    return up_func(context, data_dict)


# --- the shape of what the dataset and resource actions receive --------------------------------------

KNOWN_STATES = ("active", "draft", "deleted")
# Values Solr indexes as one "string" term (title_string, url, res_url): well under its 32,766 bytes.
MAX_INDEXED_TEXT = 10_000
# Core dataset fields that are one text value (scheming's own fields are its validators' business).
DATASET_TEXT_KEYS = ("name", "title", "notes", "url", "version", "author", "author_email", "maintainer",
                     "maintainer_email", "license_id", "owner_org", "type", "tag_string")
RESOURCE_TEXT_KEYS = ("id", "url", "name", "description", "format", "mimetype", "url_type")


def _field_error(field: str, message: str) -> tk.ValidationError:
    return tk.ValidationError({field: [message]})


def _not_text(field: str) -> tk.ValidationError:
    return _field_error(field, tk._("Give “{field}” as text.").format(field=field))


def _too_long(field: str) -> tk.ValidationError:
    return _field_error(field, tk._("“{field}” is too long (at most 10,000 characters).").format(field=field))


def _text_keys(data_dict: DataDict, keys: tuple[str, ...], prefix: str = "") -> None:
    for key in keys:
        value = data_dict.get(key)
        if value is not None and not isinstance(value, str):
            raise _not_text(prefix + key)


def _check_dataset(data_dict: DataDict) -> None:
    _text_keys(data_dict, DATASET_TEXT_KEYS)
    state = data_dict.get("state")
    if state is not None and state not in KNOWN_STATES:
        raise _field_error("state", tk._("Unknown state: use active, draft or deleted."))
    for key in ("title", "url"):
        if len(data_dict.get(key) or "") > MAX_INDEXED_TEXT:
            raise _too_long(key)
    if "resources" in data_dict:
        resources = data_dict["resources"]
        if not isinstance(resources, list) or not all(isinstance(r, dict) for r in resources):
            raise _field_error("resources", tk._("Give the resources as a list of objects."))
        for resource in resources:
            _check_resource(resource, "resources.")


def _check_resource(resource: DataDict, prefix: str = "") -> None:
    _text_keys(resource, RESOURCE_TEXT_KEYS, prefix)
    if len(resource.get("url") or "") > MAX_INDEXED_TEXT:
        raise _too_long(prefix + "url")


def _check_revise(data_dict: DataDict) -> None:
    for key in ("match", "update"):
        if data_dict.get(key) is not None and not isinstance(data_dict[key], dict):
            raise _field_error(key, tk._("Give “{field}” as an object.").format(field=key))
    _text_keys(data_dict.get("match") or {}, ("id", "name"), "match.")
    if isinstance(data_dict.get("update"), dict):
        _check_dataset(data_dict["update"])


def _check_reorder(data_dict: DataDict) -> None:
    order = data_dict.get("order")
    if order is not None and (not isinstance(order, list) or not all(isinstance(i, str) for i in order)):
        raise _field_error("order", tk._("Give the order as a list of resource ids."))


# Identifiers that are not text are refused at the API's door (api_guard.py): CKAN's own callers pass
# other types there (its bulk actions give package_patch a database row as the id).
INPUT_CHECKS: dict[str, Callable[[DataDict], None]] = {
    "package_create": _check_dataset,
    "package_update": _check_dataset,
    "package_patch": _check_dataset,
    "package_revise": _check_revise,
    "package_resource_reorder": _check_reorder,
    "resource_create": _check_resource,
    "resource_update": _check_resource,
    "resource_patch": _check_resource,
}


def _input_guard(name: str, check: Callable[[DataDict], None]) -> Any:
    @tk.chained_action
    def guard(up_func: Any, context: Context, data_dict: DataDict) -> Any:
        check(data_dict or {})
        return up_func(context, data_dict)
    guard.__name__ = name
    return guard


def _guards() -> dict[str, Any]:
    return {name: _input_guard(name, check) for name, check in INPUT_CHECKS.items()}


def get_actions() -> dict[str, Any]:
    return {"group_autocomplete": group_autocomplete, "organization_autocomplete": organization_autocomplete,
            **_guards()}


def get_auth_functions() -> dict[str, Any]:
    return {
        "package_collaborator_list": collaborators,
        "package_collaborator_create": collaborators,
        "package_collaborator_delete": collaborators,
        "activity_show": activity_show,
    }
