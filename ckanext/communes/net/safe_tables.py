"""frictionless without the network: tables are validated from files we wrote, against schemas we ship.

frictionless fetches by itself whatever a descriptor gives as a URL (a Table Schema, a dialect, a resource
path), through its own requests session, and reads local paths. Our SCDL check hands it a schema object
built from a shipped descriptor and a file in a temporary folder of our own, so it has nothing to fetch;
:func:`offline` makes sure it cannot: frictionless's HTTP session is replaced by one whose every request
is refused, untrusted mode is on (no absolute path, no ``..``), and the block runs inside
:func:`ckanext.communes.net.offline.offline` (no connection at all from the thread, whatever the road).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import requests
from requests.adapters import BaseAdapter

from ckanext.communes.net import offline as no_network


class RefusingAdapter(BaseAdapter):
    """A requests adapter that sends nothing."""

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> requests.Response:
        raise requests.ConnectionError(f"the portal does not fetch {str(request.url)[:150]} while validating")

    def close(self) -> None:
        pass


def refusing_session() -> requests.Session:
    session = requests.Session()
    session.trust_env = False
    session.adapters.clear()
    for prefix in ("http://", "https://", "ftp://", "file://", ""):
        session.mount(prefix, RefusingAdapter())
    return session


@contextmanager
def offline() -> Iterator[None]:
    """frictionless may read the files it is given, and fetch nothing. frictionless's ``system`` is
    process-wide: when blocks of two threads overlap, the one that ends first may give the other back
    frictionless's own session; that thread is still refused any connection by the network guard."""
    from frictionless import system

    with no_network.offline(), system.use_context(trusted=False, http_session=refusing_session()):
        yield
