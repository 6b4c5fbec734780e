"""A backstop for the safe parsers: while a parser runs, the running thread cannot open a connection.

The safe parsers (``safe_rdf``, ``safe_tables``) hand each library a loader that refuses every URL: that is
what keeps a remote document from making us fetch. This module is the second line, in case a library
grows a fetching path that its loader does not cover (a new rdflib version resolving something itself,
a pyshacl option, a frictionless plugin): inside :func:`offline`, any name resolution, socket connection
or ``urllib`` request of the current thread raises :class:`NetworkRefused` at the call site, before a
byte leaves the machine.

It works through a Python audit hook (PEP 578) rather than by patching a library: the interpreter raises
the events ``socket.getaddrinfo``, ``socket.connect``, ``urllib.Request``... whichever library makes the
call, so nothing escapes by taking another road. The hook is installed once per process, on the first
use, and acts only in a thread (or asyncio task) that is inside :func:`offline`: the guarded client, the
database, Solr, Redis and every other thread go on as usual. An audit hook cannot be removed; outside
an offline block it is one set lookup per audited event. (A thread started inside the block is not
covered: none of the parsers we run starts one; the loaders remain the first line.)
"""

from __future__ import annotations

import contextvars
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

# What opening a connection, resolving a name or sending a datagram raises (every library goes through
# these: http.client, urllib3, urllib.request for http and file URLs, ftplib, DNS resolvers).
NETWORK_EVENTS = frozenset({
    "socket.getaddrinfo", "socket.gethostbyname", "socket.gethostbyaddr", "socket.getnameinfo",
    "socket.connect", "socket.sendto", "socket.sendmsg", "urllib.Request", "http.client.connect",
    "ftplib.connect", "smtplib.connect", "poplib.connect", "imaplib.open", "nntplib.connect", "telnetlib.Telnet.open",
    "webbrowser.open",
})


class NetworkRefused(Exception):
    """A parser tried to reach the network (or a file:// URL through urllib) inside an offline block."""

    def __init__(self, event: str, target: str) -> None:
        super().__init__(f"network access refused while parsing ({event})")
        self.event = event
        self.target = target  # what the library asked for, for the caller's own message (not shown as is)


class _Block:
    """One offline block: the refused attempts, so that the caller can fail even if a library caught
    the exception and went on."""

    def __init__(self) -> None:
        self.refused: list[NetworkRefused] = []


_current: contextvars.ContextVar[_Block | None] = contextvars.ContextVar("communes_offline", default=None)
_install_lock = threading.Lock()
_installed = False


def _hook(event: str, args: tuple[Any, ...]) -> None:
    if event not in NETWORK_EVENTS:
        return
    block = _current.get()
    if block is None:
        return
    target = str(args[0])[:200] if args else ""
    if event in ("socket.connect", "socket.sendto") and len(args) > 1:
        target = str(args[1])[:200]
    refused = NetworkRefused(event, target)
    block.refused.append(refused)
    raise refused


def _install() -> None:
    global _installed
    with _install_lock:
        if not _installed:
            sys.addaudithook(_hook)
            _installed = True


@contextmanager
def offline() -> Iterator[_Block]:
    """No network for the current thread while the block runs. Yields the block, whose ``refused`` lists
    what was attempted (empty when the libraries behaved)."""
    _install()
    block = _Block()
    token = _current.set(block)
    try:
        yield block
    finally:
        _current.reset(token)
