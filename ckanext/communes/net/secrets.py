"""Secrets at rest: a credential the portal must send somewhere (a harvest source's password), stored
encrypted and bound to the origin it was given for.

Keys: the option ``ckanext.communes.secrets_key`` holds one or more Fernet keys (``cryptography``:
AES-128-CBC and HMAC-SHA256, 44 characters of URL-safe base64 each), separated by commas or spaces. The
first encrypts, every one decrypts (``MultiFernet``): to change keys, put a new one first, run ``ckan
communes secrets rotate`` (everything re-encrypted with it), then remove the old one.

A sealed value is the JSON object ``{"fernet": "<token>"}``: an object, so that it can never be taken for
a password typed as text. The token encrypts ``{"secret": ..., "origin": ...}``: the origin sits inside
the authenticated ciphertext, so nobody who can write to the database but lacks the key can rebind a
secret to another host.

The origin is scheme, host and port (``https://geo.example.org``, default ports left out), what HTTP
authentication scopes credentials to (RFC 9110 §11.5, the protection space is the server's canonical root
URI) and what the guarded client keeps an Authorization header within across redirects. Another host is
another party; another port can be another service of the same machine; ``http`` instead of ``https``
sends the password in clear on the network. Another path on the same origin is the same server: the
secret stays usable there.
"""

from __future__ import annotations

import json
import re
import urllib.parse
from typing import Any

import ckan.plugins.toolkit as tk
from cryptography.fernet import Fernet, InvalidToken, MultiFernet

OPTION = "ckanext.communes.secrets_key"
SEALED_FIELD = "fernet"
DEFAULT_PORTS = {"http": 80, "https": 443}
_KEY_SEPARATORS = re.compile(r"[\s,]+")


class SecretError(Exception):
    """A secret that cannot be sealed or opened; ``message`` says why (French when the catalogue is loaded)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class KeyMissing(SecretError):
    """The option holds no key."""


class KeyInvalid(SecretError):
    """The option holds something that is not a Fernet key."""


class Undecryptable(SecretError):
    """No configured key opens the token (the key that sealed it was removed or changed), or the token
    was tampered with."""


class OtherOrigin(SecretError):
    """The secret was given for another origin than the one it is about to be sent to."""

    def __init__(self, stored: str, current: str) -> None:
        super().__init__(f"secret bound to {stored}, not to {current}")
        self.stored = stored
        self.current = current


def generate_key() -> str:
    return Fernet.generate_key().decode("ascii")


def configured_keys() -> list[str]:
    return [key for key in _KEY_SEPARATORS.split(str(tk.config.get(OPTION) or "").strip()) if key]


def has_key() -> bool:
    return bool(configured_keys())


def _fernets() -> list[Fernet]:
    keys = configured_keys()
    if not keys:
        raise KeyMissing(tk._("No encryption key is configured (option {option}).").format(option=OPTION))
    try:
        return [Fernet(key.encode("ascii")) for key in keys]
    except (ValueError, UnicodeEncodeError):  # never the key itself in a message
        raise KeyInvalid(tk._("The option {option} holds an invalid key: each key is 44 characters of URL-safe "
                              "base64, as `ckan communes secrets generate-key` prints them.").format(
            option=OPTION)) from None


def check_keys() -> None:
    """KeyMissing or KeyInvalid when the option cannot encrypt."""
    _fernets()


def origin_of(url: str) -> str:
    """``scheme://host[:port]`` of an http(s) URL, lower case, the default port left out; "" for anything
    else (which matches no origin)."""
    try:
        parts = urllib.parse.urlsplit((url or "").strip())
        port = parts.port
    except ValueError:
        return ""
    scheme, host = parts.scheme.lower(), (parts.hostname or "").lower()
    if scheme not in DEFAULT_PORTS or not host:
        return ""
    if ":" in host:
        host = f"[{host}]"  # IPv6
    return f"{scheme}://{host}" if port in (None, DEFAULT_PORTS[scheme]) else f"{scheme}://{host}:{port}"


def is_sealed(value: Any) -> bool:
    return isinstance(value, dict) and set(value) == {SEALED_FIELD} and isinstance(value[SEALED_FIELD], str)


def seal(secret: str, url: str) -> dict[str, str]:
    """The secret encrypted with the first key, bound to the URL's origin."""
    plain = json.dumps({"secret": secret, "origin": origin_of(url)}, ensure_ascii=False).encode("utf-8")
    return {SEALED_FIELD: _fernets()[0].encrypt(plain).decode("ascii")}


def unseal(sealed: dict[str, str]) -> tuple[str, str]:
    """(secret, origin) of a sealed value."""
    fernets = _fernets()
    try:
        plain = json.loads(MultiFernet(fernets).decrypt(sealed[SEALED_FIELD].encode("ascii")))
        return str(plain["secret"]), str(plain["origin"])
    except (InvalidToken, UnicodeEncodeError, ValueError, KeyError, TypeError):
        raise Undecryptable(tk._("A stored secret cannot be decrypted with the keys of the option {option} (key "
                                 "removed or changed).").format(option=OPTION)) from None


def secret_for(stored: Any, url: str) -> str:
    """The secret to send to ``url``: a sealed value opened, after checking it was given for the URL's
    origin (OtherOrigin otherwise); a text as it is (stored before secrets were encrypted)."""
    if not is_sealed(stored):
        return str(stored)
    secret, origin = unseal(stored)
    current = origin_of(url)
    if not origin or origin != current:
        raise OtherOrigin(origin, current)
    return secret


def reseal(sealed: dict[str, str]) -> dict[str, str] | None:
    """The sealed value re-encrypted with the first key; None when the first key already opens it (nothing
    to write: a second rotation changes nothing). Undecryptable when no key opens it."""
    unseal(sealed)
    fernets = _fernets()
    token = sealed[SEALED_FIELD].encode("ascii")
    try:
        fernets[0].decrypt(token)
        return None
    except InvalidToken:
        return {SEALED_FIELD: MultiFernet(fernets).rotate(token).decode("ascii")}
