"""Refuse, with a 400, action API bodies CKAN would answer with a 500.

- Nested deeper than any real call needs: CKAN parses the body with ``json`` and walks it recursively, and
  a body of a few kilobytes nested thousands of levels deep raises RecursionError on every action. Nothing
  we serve nests more than a few levels (a dataset, its resources, their extras), so 100 is generous.
- Holding a NUL character (``\u0000`` in a JSON string, or the byte itself): PostgreSQL refuses it in a
  string, and a dozen core actions (organization_list, user_list, tag_list, member_list, package_patch,
  organization_patch...) let the error through as a 500.
- An identifier or a query that is not text (``"id": [...]``, ``{...}``, ``5``, or ``?id=a&id=b``, which
  CKAN reads as a list): CKAN hands it to SQL or Solr as is, and most actions (package_show, user_show,
  organization_show, package_update, resource_delete…) answer a 500. ``id``, ``q`` and every ``…_id`` must be
  text (found by walking the action registry, tests/test_action_registry_auth.py).
- A place search (``ext_bbox``, ckanext-spatial) whose box is not four numbers in range, minimums first
  (the same check as query_guard.py for the query string).
"""

from __future__ import annotations

import json
import re
from typing import Any

import ckan.plugins.toolkit as tk
import flask

from ckanext.communes import geo

MAX_JSON_DEPTH = 100
# JSON strings may hold brackets: blank them out before counting (C speed, no Python loop over text).
_JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
# \u0000 preceded by an even number of backslashes (an odd number escapes the backslash itself).
_JSON_NUL = re.compile(rb"(?<!\\)(?:\\\\)*\\u0000")


def json_depth(body: bytes) -> int:
    """Deepest nesting of ``[`` and ``{`` in a JSON text (0 for a scalar)."""
    depth = deepest = 0
    for char in _JSON_STRING.sub(b'""', body).translate(None, _NOT_BRACKETS):
        if char in b"[{":
            depth += 1
            deepest = max(deepest, depth)
        else:
            depth -= 1
    return deepest


def bad_request(message: str) -> flask.Response:
    """The action API's own shape of a 400."""
    payload = {"success": False, "error": {"__type": "Bad Request", "message": message}}
    return flask.Response(json.dumps(payload), status=400, content_type="application/json;charset=utf-8")


def _is_identifier(key: Any) -> bool:
    return isinstance(key, str) and (key in ("id", "q") or key.endswith("_id"))


def identifier_error(values: dict[str, Any]) -> flask.Response | None:
    """A 400 naming the first identifier or query that is not text (None: all are, or are null)."""
    for key, value in values.items():
        if _is_identifier(key) and value is not None and not isinstance(value, str):
            return bad_request(tk._("The parameter “{name}” must be text (an identifier or a query), not a list, "
                                    "an object or a number.").format(name=key[:100]))
    return None


def bbox_error(values: dict[str, Any]) -> flask.Response | None:
    """A 400 for a ckanext-spatial ``ext_bbox`` (top level or in ``extras``) that is not a usable box."""
    extras = values.get("extras")
    for value in (values.get("ext_bbox"), extras.get("ext_bbox") if isinstance(extras, dict) else None):
        if value is None or value == "":
            continue
        try:
            geo.parse_bbox_parameter(value)
        except geo.GeometryProblem as problem:
            return bad_request(geo.problem_message(problem, "ext_bbox"))
    return None


def reject_unsafe_api_bodies() -> Any:
    """Flask before_request hook for the action API."""
    request = flask.request
    if request.method == "GET" and request.path.startswith("/api/"):
        repeated = {key: values for key, values in request.args.lists() if len(values) > 1}
        return identifier_error(repeated)
    if request.method not in ("POST", "PUT") or not request.path.startswith("/api/"):
        return None
    if request.mimetype == "multipart/form-data":
        return None
    body = request.get_data(cache=True)
    if b"\x00" in body or _JSON_NUL.search(body):
        return bad_request(tk._("A value of the request contains a null character."))
    if body.count(b"[") + body.count(b"{") > MAX_JSON_DEPTH and json_depth(body) > MAX_JSON_DEPTH:
        return bad_request(tk._("The request body is nested more than {max} levels deep.").format(
            max=MAX_JSON_DEPTH))
    try:
        values = json.loads(body) if request.mimetype == "application/json" or body[:1] == b"{" else None
    except ValueError:  # CKAN answers a body that is not JSON itself
        return None
    return (identifier_error(values) or bbox_error(values)) if isinstance(values, dict) else None


def install(app: Any) -> Any:
    """IMiddleware.make_middleware: register the hook on CKAN's Flask app."""
    if isinstance(app, flask.Flask):
        app.before_request(reject_unsafe_api_bodies)
    return app
