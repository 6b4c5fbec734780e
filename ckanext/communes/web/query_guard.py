"""Refuse, with a French 400, query parameters (and form fields) that CKAN's and ckanext-harvest's pages turn
into a 500.

Found by probing every page with junk parameters (each rule names what it fixed):

- ``page`` that is not a whole number from 1 to :data:`MAX_PAGE`: ckanext-harvest's source page does
  ``int(request.args['page'])`` (``abc``: a 500), and a negative or huge page reaches Solr or PostgreSQL
  there and on CKAN's organisation list (another 500);
- ``limit`` that is not a whole number from 1 to :data:`MAX_LIMIT`: CKAN's user list does ``int()`` on it,
  and a negative one is a PostgreSQL error that also leaves the request's database session broken;
- a NUL character in any parameter, or in a field of a form posted to a page: PostgreSQL refuses it in a
  string (the organisation, group and user lists search with ``q``; the dataset and organisation forms);
- ``ext_bbox`` that is not four numbers ``minx,miny,maxx,maxy`` in range with each minimum below its
  maximum, on every path the API included: ckanext-spatial answers a bare « Search error » 409 (or passes
  min > max and out-of-range numbers to Solr); checked again for API bodies (api_guard.py) and internal calls
  (schema/spatial.py);
- Solr local parameters (``{!...}``) in any parameter, and a ``sort`` that is not ``field asc|desc`` pairs
  (outside our own pages, which check theirs): CKAN's organisation and group pages pass them to Solr and do
  not catch its error.

What CKAN's own pages, forms and pagers write passes: an empty ``sort`` or ``q`` (the pagers of the
organisation and group lists link ``?q=&sort=&page=2``: CKAN then sorts as by default; a ``sort`` of blanks
only is refused: CKAN's lists fail on it) and the facets' values (tests/test_query_guard.py follows them).

The action API (``/api/``) is left to its actions' own validation, except for the NUL character, and the
DCAT catalogues (``/catalog.ttl``, ``/communes/{insee}/catalog.ttl``) to theirs: they answer machines
with a plain-text 400 naming the parameter (dcat/views.py).
"""

from __future__ import annotations

import re
from typing import Any

import ckan.plugins.toolkit as tk
import flask

from ckanext.communes import geo
from ckanext.communes.translation import french_number
from ckanext.communes.web.api_guard import bad_request

# ckanext-spatial's bounding box (dataset search page and package_search): four numbers, or a French 400.
BBOX_PARAMETER = "ext_bbox"
MAX_PAGE = 100_000
MAX_LIMIT = 1_000
_WHOLE_NUMBER = re.compile(r"[1-9][0-9]{0,5}")
_SORT = re.compile(r"[A-Za-z0-9_]+ (asc|desc)(, *[A-Za-z0-9_]+ (asc|desc))*")
_CATALOGUE = re.compile(r"/catalog\.[a-z0-9]+$")
# Our pages check their own parameters (the bilan's ``sort`` is a column name, with ``dir``).
OWN_PAGES = "/communes"


def _whole_number(values: list[str], maximum: int) -> bool:
    return all(_WHOLE_NUMBER.fullmatch(value) and int(value) <= maximum for value in values)


def problem(path: str, args: Any) -> str | None:
    """The French reason to refuse the query parameters of a request to ``path``, or None."""
    if any("\x00" in value for _name, value in args.items(multi=True)):
        return tk._("A parameter of the address contains a null character.")
    for value in args.getlist(BBOX_PARAMETER):
        if value:
            try:
                geo.parse_bbox_parameter(value)
            except geo.GeometryProblem as bbox_problem:
                return geo.problem_message(bbox_problem, BBOX_PARAMETER)
    if path.startswith("/api/") or _CATALOGUE.search(path):
        return None
    if "page" in args and not _whole_number(args.getlist("page"), MAX_PAGE):
        return tk._("The page number must be a whole number from 1 to {max}.").format(
            max=french_number(MAX_PAGE))
    if "limit" in args and not _whole_number(args.getlist("limit"), MAX_LIMIT):
        return tk._("The limit must be a whole number from 1 to {max}.").format(max=french_number(MAX_LIMIT))
    if any("{!" in value for _name, value in args.items(multi=True)):
        return tk._("The search cannot contain Solr local parameters ({!...}).")
    if ("sort" in args and not path.startswith(OWN_PAGES)
            and not all(_SORT.fullmatch(value.strip()) for value in args.getlist("sort") if value)):
        return tk._("The sort order must be a field followed by asc or desc, e.g. title_string asc.")
    return None


def refuse_bad_parameters() -> Any:
    """Flask before_request hook."""
    request = flask.request
    reason = problem(request.path, request.args) if request.args else None
    if (reason is None and request.method == "POST" and not request.path.startswith("/api/")
            and request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data")
            and any("\x00" in value for _name, value in request.form.items(multi=True))):
        reason = tk._("A field of the form contains a null character.")
    if reason is not None:
        if request.path.startswith("/api/"):
            return bad_request(reason)
        tk.abort(400, reason)
    return None


def install(app: Any) -> Any:
    """IMiddleware.make_middleware: register the hook on CKAN's Flask app."""
    if isinstance(app, flask.Flask):
        app.before_request(refuse_bad_parameters)
    return app
