"""CSRF exemptions that last one request, not the life of the process.

CKAN 2.12 (``ckan_before_request``) exempts the view of every request made with an API token, or by an
anonymous visitor, by calling ``csrf.exempt(view)``: flask-wtf keeps that in a process-wide set, so after
one anonymous POST to, say, the dataset form, the form accepts cookie sessions' POSTs without a token for
as long as the process lives — any site can then make a logged-in editor's browser post to it. We keep
CKAN's intent (no token needed for API tokens and anonymous requests) but scope it to the request that
asked for it: views exempted at start-up (outside any request) stay exempt for good.
"""

from __future__ import annotations

from typing import Any

import flask

REQUEST_EXEMPTIONS = "_communes_csrf_exempt_views"


class RequestScopedExemptions(set):
    """flask-wtf's ``_exempt_views``: additions made during a request belong to that request only."""

    def add(self, view_location: Any) -> None:
        if flask.has_request_context():
            flask.g.setdefault(REQUEST_EXEMPTIONS, set()).add(view_location)
        else:
            super().add(view_location)

    def __contains__(self, view_location: object) -> bool:
        if super().__contains__(view_location):
            return True
        return flask.has_request_context() and view_location in flask.g.get(REQUEST_EXEMPTIONS, ())


def scope_exemptions_to_requests(app: Any) -> Any:
    """IMiddleware.make_middleware: swap flask-wtf's set for ours (CKAN's CSRFProtect is one object
    per process, initialised before the plugins' middleware)."""
    from ckan.config.middleware.flask_app import csrf

    if not isinstance(csrf._exempt_views, RequestScopedExemptions):
        csrf._exempt_views = RequestScopedExemptions(csrf._exempt_views)
    return app
