"""Errors a page lets through, answered as what they are instead of a 500.

- A search Solr cannot parse is the client's error: a French 400. CKAN's dataset page and action API catch
  ``SearchError``; its feeds (``/feeds/custom.atom?tags=a" OR (``: the value is pasted between quotes into
  ``fq``) and ckanext-dcat's catalogues (``/catalog.rdf?fq=(``) do not. Only the errors a request causes
  become 400: CKAN's own refusals (local parameters, magic fields, unknown parameters) and Solr's
  ``HTTP 400`` (a syntax error); any other Solr failure stays a server error.
- The action errors a view does not catch: ``NotAuthorized`` 403, ``ObjectNotFound`` 404, ``ValidationError``
  400 (ckanext-activity's ``/dataset/changes_multiple`` lets them all through).

Found by probing the portal's routes with hostile parameters for each role
(tests/harvesters/test_source_visibility.py). The action API answers these itself.
"""

from __future__ import annotations

import logging
import re
from typing import Any

import ckan.plugins.toolkit as tk
import flask
from ckan.lib.search.common import SearchError, SearchQueryError
from werkzeug.exceptions import BadRequest, Forbidden, HTTPException, InternalServerError, NotFound

from ckanext.communes.web.api_guard import bad_request

log = logging.getLogger(__name__)

# CKAN's own refusals (ckan/lib/search/query.py) and Solr's answer to a query it cannot parse.
_CLIENT_ERROR = re.compile(
    r"Local parameters |Query parsers are not supported|Magic fields are not supported|"
    r"Invalid search parameters|\(HTTP 400\)")
_CATALOGUE = re.compile(r"/catalog(\.[a-z0-9]+)?$")


def is_client_error(error: Exception) -> bool:
    return isinstance(error, SearchQueryError) or bool(_CLIENT_ERROR.search(str(error)))


def search_message() -> str:
    return tk._("The search could not be understood: check its brackets, quotes and operators "
                "(AND, OR, NOT).")


def _answer(app: flask.Flask, http_error: HTTPException) -> Any:
    path = flask.request.path
    if path.startswith("/api/") and http_error.code == 400:
        return bad_request(str(http_error.description))
    if _CATALOGUE.search(path) and http_error.code == 400:
        # The catalogues answer machines: plain text, as dcat/views.py's parameter errors.
        return flask.Response(f"{http_error.description}\n", status=400,
                              content_type="text/plain; charset=utf-8")
    return app.handle_http_exception(http_error)


def _search_error(app: flask.Flask, error: SearchError) -> Any:
    if not is_client_error(error):
        log.error("Search failed: %s", error, exc_info=error)
        return _answer(app, InternalServerError())
    return _answer(app, BadRequest(search_message()))


def _action_error(app: flask.Flask, error: Exception) -> Any:
    if isinstance(error, tk.NotAuthorized):
        return _answer(app, Forbidden(str(error) or tk._("Not authorized to see this page")))
    if isinstance(error, tk.ObjectNotFound):
        return _answer(app, NotFound(str(error) or tk._("Not found")))
    return _answer(app, BadRequest(tk._("The request is incomplete or invalid.")))


def install(app: Any) -> Any:
    """IMiddleware.make_middleware: register the error handlers on CKAN's Flask app."""
    if isinstance(app, flask.Flask):
        app.register_error_handler(SearchError, lambda error: _search_error(app, error))
        for error_class in (tk.NotAuthorized, tk.ObjectNotFound, tk.ValidationError):
            app.register_error_handler(error_class, lambda error: _action_error(app, error))
    return app
