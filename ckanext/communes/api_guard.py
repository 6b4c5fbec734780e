"""Refuse, with a 400, action API bodies nested deeper than any real call needs.

CKAN parses the body with ``json`` and walks it recursively: a body of a few kilobytes nested thousands
of levels deep raises RecursionError, which CKAN answers with a 500 on every action. Nothing we serve
nests more than a few levels (a dataset, its resources, their extras), so 100 is generous.
"""

from __future__ import annotations

import json
import re
from typing import Any

import ckan.plugins.toolkit as tk
import flask

MAX_JSON_DEPTH = 100
# JSON strings may hold brackets: blank them out before counting (C speed, no Python loop over text).
_JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")


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


def reject_deeply_nested_json() -> Any:
    """Flask before_request hook for the action API."""
    request = flask.request
    if request.method not in ("POST", "PUT") or not request.path.startswith("/api/"):
        return None
    if request.mimetype == "multipart/form-data":
        return None
    body = request.get_data(cache=True)
    if body.count(b"[") + body.count(b"{") <= MAX_JSON_DEPTH or json_depth(body) <= MAX_JSON_DEPTH:
        return None
    message = tk._("The request body is nested more than {max} levels deep.").format(max=MAX_JSON_DEPTH)
    payload = {"success": False, "error": {"__type": "Bad Request", "message": message}}
    return flask.Response(json.dumps(payload), status=400, content_type="application/json;charset=utf-8")


def install(app: Any) -> Any:
    """IMiddleware.make_middleware: register the hook on CKAN's Flask app."""
    if isinstance(app, flask.Flask):
        app.before_request(reject_deeply_nested_json)
    return app
