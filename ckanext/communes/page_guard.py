"""Refuse, with a 400, a ``page`` query parameter that is not a page number, on the portal's pages.

Several pages read ``page`` without checking it: ckanext-harvest's source page (``int(request.args['page'])``:
a 500 for ``abc``; a negative or huge number reaches Solr or PostgreSQL, another 500), CKAN's organisation
list (an OFFSET beyond PostgreSQL's bigint). One rule for every page instead of a fix per view: a page
number is a whole number from 1 to :data:`MAX_PAGE`. The action API (``/api/``) is left to its actions'
own validation, and the DCAT catalogues (``/catalog.ttl``, ``/communes/{insee}/catalog.ttl``) to theirs:
they answer machines with a plain-text 400 naming the parameter (dcat/views.py).
"""

from __future__ import annotations

import re
from typing import Any

import ckan.plugins.toolkit as tk
import flask

MAX_PAGE = 100_000
_PAGE_NUMBER = re.compile(r"[1-9][0-9]{0,5}")
_CATALOGUE = re.compile(r"/catalog\.[a-z0-9]+$")


def reject_bad_page_numbers() -> Any:
    """Flask before_request hook."""
    request = flask.request
    if "page" not in request.args or request.path.startswith("/api/") or _CATALOGUE.search(request.path):
        return None
    values = request.args.getlist("page")
    if all(_PAGE_NUMBER.fullmatch(value) and int(value) <= MAX_PAGE for value in values):
        return None
    from ckanext.communes.communes.helpers import communes_number

    tk.abort(400, tk._("The page number must be a whole number from 1 to {max}.").format(
        max=communes_number(MAX_PAGE)))
    return None  # not reached: abort raises


def install(app: Any) -> Any:
    """IMiddleware.make_middleware: register the hook on CKAN's Flask app."""
    if isinstance(app, flask.Flask):
        app.before_request(reject_bad_page_numbers)
    return app
