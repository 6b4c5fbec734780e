"""A view's own ``Cache-Control`` for a response CKAN would otherwise header itself.

CKAN sets every response's ``Cache-Control`` in its last ``after_request`` hook (``ckan.views.
set_cache_control_headers_for_response``): ``private`` when the request is marked ``__no_cache__``, else
``public, max-age=<ckan.cache_expires>, must-revalidate``, whatever the view set. That is the right default for
pages; a view whose data has its own lifetime (the map preview's data, kept ``ckanext.communes.map.cache_seconds``)
cannot say it, since CKAN's hook runs after every hook a plugin registers. So such a view calls
:func:`set_public_max_age`, and :func:`install` wraps the Flask application's WSGI callable (Flask's documented
place for a middleware, ``app.wsgi_app``, the app object itself left to the other plugins' hooks) to write that
header as the response starts, after CKAN's.

Only ``public`` lifetimes go this way: a response that must stay private keeps CKAN's ``private`` (``__no_cache__``)
and whatever the view adds to it."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import flask

ENVIRON_KEY = "ckanext.communes.cache_control"


def set_public_max_age(seconds: int) -> None:
    """The response of the current request may be kept by any cache for ``seconds`` (called by a view for data
    anybody may read; never for a private dataset's)."""
    flask.request.environ[ENVIRON_KEY] = f"public, max-age={int(seconds)}"


class _CacheControlOverride:
    """WSGI: the ``Cache-Control`` a view asked for (environ[ENVIRON_KEY]), in place of CKAN's, on a 200."""

    def __init__(self, wsgi_app: Callable[..., Iterable[bytes]]) -> None:
        self.wsgi_app = wsgi_app

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        def start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            wanted = environ.get(ENVIRON_KEY)
            if wanted and status.startswith("200"):
                headers = [(name, value) for name, value in headers if name.lower() != "cache-control"]
                headers.append(("Cache-Control", wanted))
            return start_response(status, headers, exc_info) if exc_info else start_response(status, headers)

        return self.wsgi_app(environ, start)


def install(app: Any) -> Any:
    """IMiddleware.make_middleware: wrap CKAN's Flask application's WSGI callable (once)."""
    if isinstance(app, flask.Flask) and not isinstance(app.wsgi_app, _CacheControlOverride):
        app.wsgi_app = _CacheControlOverride(app.wsgi_app)  # type: ignore[method-assign]
    return app
