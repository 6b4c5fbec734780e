"""net/secrets.py on its own: the origin a secret is bound to, the key list (first encrypts, all decrypt),
what a missing, invalid or changed key gives. No database."""

from __future__ import annotations

import json

import pytest
from cryptography.fernet import Fernet

from ckanext.communes.net import secrets

NEW, OLD = Fernet.generate_key().decode(), Fernet.generate_key().decode()
SECRET = "mot de passe de la source"


@pytest.fixture
def keys(ckan_config, monkeypatch):
    def use(value: str) -> None:
        monkeypatch.setitem(ckan_config, secrets.OPTION, value)
    return use


@pytest.mark.parametrize(("url", "origin"), [
    ("HTTPS://Geo.Example.ORG/geonetwork/srv/fre/csw?x=1", "https://geo.example.org"),
    ("https://geo.example.org:443/", "https://geo.example.org"),  # the default port is no other origin
    ("http://geo.example.org:80", "http://geo.example.org"),
    ("http://geo.example.org:8080/csw", "http://geo.example.org:8080"),
    ("https://user:pw@geo.example.org/csw", "https://geo.example.org"),
    ("http://[::1]:8080/csw", "http://[::1]:8080"),
    ("ftp://geo.example.org/", ""),  # not http(s): matches nothing
    ("http://geo.example.org:99999/", ""),
    ("/relative/path", ""),
    ("", ""),
])
def test_the_origin_is_scheme_host_and_port(url, origin):
    assert secrets.origin_of(url) == origin


def test_the_first_key_encrypts_and_every_key_decrypts(keys):
    # With spaces: a token (URL-safe base64) can never hold it by chance, as it held « pw » once in ~40 runs.
    keys(f" {NEW}, {OLD}\n")
    assert secrets.configured_keys() == [NEW, OLD]
    sealed = secrets.seal(SECRET, "https://geo.example.org/csw")
    assert set(sealed) == {"fernet"} and secrets.is_sealed(sealed)
    assert SECRET not in json.dumps(sealed)
    assert json.loads(Fernet(NEW.encode()).decrypt(sealed["fernet"].encode())) == {
        "secret": SECRET, "origin": "https://geo.example.org"}
    assert secrets.reseal(sealed) is None  # already under the first key

    keys(OLD)
    under_old = secrets.seal(SECRET, "https://geo.example.org/csw")
    keys(f"{NEW} {OLD}")
    assert secrets.unseal(under_old) == (SECRET, "https://geo.example.org")
    resealed = secrets.reseal(under_old)
    assert resealed is not None and Fernet(NEW.encode()).decrypt(resealed["fernet"].encode())
    keys(NEW)
    assert secrets.secret_for(resealed, "https://geo.example.org/other/path") == SECRET
    with pytest.raises(secrets.Undecryptable):
        secrets.unseal(under_old)


@pytest.mark.parametrize("url", ["http://geo.example.org/csw", "https://geo.example.org:8443/csw",
                                 "https://geo.example.org.evil.example/csw", "https://evil.example/csw"])
def test_a_secret_is_not_opened_for_another_origin(keys, url):
    keys(NEW)
    sealed = secrets.seal("pw", "https://geo.example.org/csw")
    with pytest.raises(secrets.OtherOrigin) as raised:
        secrets.secret_for(sealed, url)
    assert raised.value.stored == "https://geo.example.org"


def test_text_stored_before_encryption_is_read_as_it_is(keys):
    keys("")
    assert secrets.secret_for("clear-pw", "https://anywhere.example/") == "clear-pw"
    assert not secrets.is_sealed("clear-pw") and not secrets.is_sealed({"fernet": "x", "more": 1})


@pytest.mark.parametrize(("value", "error"), [
    ("", secrets.KeyMissing), (" , ", secrets.KeyMissing),
    ("not-a-fernet-key", secrets.KeyInvalid),
    # A stable id: the key is generated per process, and the suite's processes must collect the same tests.
    pytest.param(f"{NEW},truncated{NEW[:20]}", secrets.KeyInvalid, id="a-good-key-then-a-truncated-one"),
    ("clé-accentuée", secrets.KeyInvalid),
])
def test_a_missing_or_invalid_key_is_an_error_naming_the_option_not_the_key(keys, value, error):
    keys(value)
    with pytest.raises(error) as raised:
        secrets.seal("pw", "https://geo.example.org/")
    assert secrets.OPTION in raised.value.message
    assert not value.strip(" ,") or value.split(",")[-1] not in raised.value.message


def test_a_tampered_token_is_undecryptable(keys):
    keys(NEW)
    sealed = secrets.seal("pw", "https://geo.example.org/")
    token = sealed["fernet"]
    for forged in (token[:-6] + "AAAAAA", "not-a-token", "é"):
        with pytest.raises(secrets.Undecryptable):
            secrets.unseal({"fernet": forged})
