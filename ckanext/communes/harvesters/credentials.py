"""HTTP Basic credentials of harvest sources (the CSW type's ``username``/``password``): masked in all
that shows a source, encrypted at rest and bound to the origin of the source's URL (net/secrets.py),
opened only when a request to that origin is built.

Where a source's config lives. ckanext-harvest 1.6.3 keeps it (JSON text) in the ``config`` column of
``harvest_source`` (what the gather reads) and in the ``config`` extra of the source dataset (type
"harvest"), both written from the validated dict of ``package_create``/``package_update``. Everything
that shows a source goes through ``package_show`` of that dataset, whose show schema also copies each
config key to the top level (``password`` included): ``harvest_source_show`` (a proxy to package_show), the
source page and its edit form, the API's ``package_show``, the activity stream (an activity stores the
package_show dict of its time), the job error e-mails, and the search index (built from package_show:
``data_dict``, ``validated_data_dict``, ``extras_config``). ``harvest_source_list`` dictizes the
``harvest_source`` row instead. So:

- a chained ``package_show`` and ``harvest_source_list`` put the mask in place of the password, clear or
  encrypted, for everyone (sysadmins included: nobody needs the ciphertext);
- a chained ``package_create``/``package_update`` (what harvest_source_create/_update/_patch, package_patch
  and the forms end in), after the caller's permission is checked: encrypts a password typed as text,
  puts the stored one back for the mask, and refuses the mask when the URL now points to another origin
  (the password is not carried over, so that it is never sent there: it must be typed again). A password
  given as anything but text is refused: only the portal writes encrypted values.
- the gather opens the password when it builds the Authorization header, and refuses to send it (a job
  error, nothing fetched) when it was given for another origin than the source's, or cannot be opened.

Nothing else holds the config: harvest jobs and objects do not copy it.
"""

from __future__ import annotations

import base64
import copy
import json
from dataclasses import dataclass, field
from typing import Any, NoReturn

import ckan.plugins.toolkit as tk
import sqlalchemy as sa
from ckan import model

from ckanext.communes.net import secrets

PASSWORD_MASK = "********"
PASSWORD_KEY = "password"


class CredentialError(Exception):
    """A stored password the gather must not send; ``message`` is the French job error."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


# --------------------------------------------------------------------------------------------- masking


def _config_dict(config: Any) -> dict[str, Any] | None:
    if not isinstance(config, str) or PASSWORD_KEY not in config:
        return None
    try:
        data = json.loads(config)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def mask_config(config: Any) -> Any:
    """The config text with its password (clear or encrypted) replaced by the mask; anything else unchanged."""
    data = _config_dict(config)
    if data is None or not data.get(PASSWORD_KEY):
        return config
    return json.dumps({**data, PASSWORD_KEY: PASSWORD_MASK}, ensure_ascii=False)


def mask_source_dict(source: dict[str, Any]) -> dict[str, Any]:
    """A harvest source dict (package_show, harvest_source_list, an activity's package) with the password
    masked, in place."""
    if "config" in source:
        source["config"] = mask_config(source["config"])
    if source.get(PASSWORD_KEY):
        source[PASSWORD_KEY] = PASSWORD_MASK
    extras = source.get("extras")
    for extra in extras if isinstance(extras, list) else []:
        if isinstance(extra, dict) and extra.get("key") == "config":
            extra["value"] = mask_config(extra.get("value"))
    return source


# --------------------------------------------------------------------------------------------- the config's keys

USERNAME_KEY = "username"
MAX_CREDENTIAL_LENGTH = 500


def _credential_problem(value: Any) -> str | None:
    ok = isinstance(value, str) and 0 < len(value) <= MAX_CREDENTIAL_LENGTH
    return None if ok else tk._("a non-empty text is expected")


def username_problem(value: Any) -> str | None:
    """What is wrong with a source config's ``username`` (None: nothing)."""
    if isinstance(value, str) and ":" in value:
        return tk._('a user name without ":" is expected (HTTP Basic)')
    return _credential_problem(value)


def password_problem(value: Any) -> str | None:
    """What is wrong with a source config's ``password``, as stored: encrypted (prepare_for_save encrypts
    it before validation), or text stored before encryption existed. None: nothing."""
    return None if secrets.is_sealed(value) else _credential_problem(value)


def config_key_checks() -> dict[str, Any]:
    """The checks of the credential keys, for a source type's ``type_config_keys``."""
    return {USERNAME_KEY: username_problem, PASSWORD_KEY: password_problem}


def pair_problem(config: dict[str, Any]) -> str | None:
    """A config with a user name and no password, or the reverse (None: both or neither)."""
    if bool(config.get(USERNAME_KEY)) != bool(config.get(PASSWORD_KEY)):
        return tk._('Configuration keys "username" and "password" go together.')
    return None


def stored_password_problem(config: dict[str, Any]) -> str | None:
    """When a source is saved: its password must be in the form it is stored in (encrypted when a key is
    configured); prepare_for_save put it so, anything else came round it. The message names the key."""
    if not config.get(PASSWORD_KEY):
        return None
    message = check_stored_form(config[PASSWORD_KEY])
    if not message:
        return None
    return tk._('Configuration key "{key}": {message}.').format(key=PASSWORD_KEY, message=message)


# --------------------------------------------------------------------------------------------- saving


@dataclass
class StoredSource:
    url: str
    password: Any  # text (stored before encryption), a sealed value, or None


def _stored_source(id_or_name: Any) -> StoredSource | None:
    from ckanext.harvest.model import HarvestSource

    if not id_or_name or not isinstance(id_or_name, str):
        return None
    package = model.Package.get(id_or_name)
    source = HarvestSource.get(package.id) if package is not None else None
    if source is None:
        return None
    try:
        stored = json.loads(source.config or "{}")
    except ValueError:
        stored = {}
    return StoredSource(source.url or "", stored.get(PASSWORD_KEY) if isinstance(stored, dict) else None)


def _refuse(message: str) -> NoReturn:
    raise tk.ValidationError({"config": [message]})


def _refuse_other_origin(new_origin: str, old_origin: str) -> NoReturn:
    _refuse(tk._('The source\'s address now points to another server ({new} instead of {old}): the stored password '
                 'is not kept, so that it is never sent there. Type the password again (in place of "********").')
            .format(new=new_origin or "?", old=old_origin or "?"))


def _bound_origin(stored: StoredSource) -> str:
    """The origin the stored password was given for: the one sealed with it; for a password stored in clear
    (before encryption), or one no key opens any more, the stored URL's."""
    if secrets.is_sealed(stored.password):
        try:
            return secrets.unseal(stored.password)[1]
        except secrets.SecretError:
            pass
    return secrets.origin_of(stored.url)


def _seal(password: str, url: str) -> dict[str, str]:
    try:
        return secrets.seal(password, url)
    except secrets.KeyMissing:
        _refuse(tk._("No encryption key is configured (option {option}): the password cannot be stored. The "
                     "portal's administrator must set one (`ckan communes secrets generate-key`).").format(
            option=secrets.OPTION))
    except secrets.KeyInvalid as error:
        _refuse(error.message)


def _kept_password(stored: StoredSource | None, url: str) -> Any:
    """What the mask stands for: the stored password, when it was given for the URL's origin."""
    if stored is None or not stored.password:
        _refuse(tk._('The password "********" stands for the stored one, but this source has none: type the '
                     'password.'))
    bound, new = _bound_origin(stored), secrets.origin_of(url)
    if bound != new:
        _refuse_other_origin(new, bound)
    if not secrets.is_sealed(stored.password) and secrets.has_key():
        return _seal(str(stored.password), url)  # stored in clear before encryption: encrypted now
    return stored.password


def prepare_for_save(context: dict[str, Any], data_dict: dict[str, Any], action: str) -> dict[str, Any]:
    """The data of a package_create/package_update as it must be validated and stored: the password
    encrypted, the mask replaced by the stored password (when still for the same origin). A copy when
    changed. ValidationError on ``config`` (French) when the password cannot be kept or stored."""
    creating = action == "package_create"
    config = data_dict.get("config")
    if not isinstance(config, str):
        # An update that leaves the config out: ckanext-harvest keeps the stored one, password included,
        # which must not follow the URL to another origin either. Only for harvest sources: an ordinary
        # dataset's update (thousands per harvest) costs no query.
        if creating or "config" in data_dict or not (
                data_dict.get("type") == "harvest" or "source_type" in data_dict):
            return data_dict
        tk.check_access(action, dict(context), data_dict)
        stored = _stored_source(data_dict.get("id") or data_dict.get("name"))
        if stored is not None and stored.password and "url" in data_dict:
            bound, new = _bound_origin(stored), secrets.origin_of(str(data_dict.get("url") or ""))
            if bound != new:
                _refuse_other_origin(new, bound)
        return data_dict
    data = _config_dict(config)
    if data is None or PASSWORD_KEY not in data:
        return data_dict
    # Permission first: the errors below speak of the stored source.
    tk.check_access(action, dict(context), data_dict)
    password = data[PASSWORD_KEY]
    stored = None if creating else _stored_source(data_dict.get("id") or data_dict.get("name"))
    url = str(data_dict.get("url") or (stored.url if stored else ""))
    if password == PASSWORD_MASK:
        kept = _kept_password(stored, url)
    elif isinstance(password, str) and password:
        kept = _seal(password, url)
    else:
        _refuse(tk._('Configuration key "{key}": {message}.').format(
            key=PASSWORD_KEY, message=tk._("a non-empty text is expected")))
    return {**data_dict, "config": json.dumps({**data, PASSWORD_KEY: kept}, ensure_ascii=False)}


def check_stored_form(password: Any) -> str | None:
    """The config validator's check of a password as it is about to be stored (after prepare_for_save):
    a sealed value; text only when no key is configured (stored before encryption, kept as it was)."""
    if secrets.is_sealed(password):
        return None
    if isinstance(password, str) and 0 < len(password) <= 500:
        return tk._("a password is stored encrypted: save the source through the portal's forms or API") if (
            secrets.has_key()) else None
    return tk._("a non-empty text is expected")


# --------------------------------------------------------------------------------------------- sending


def password_for(stored: Any, source_url: str) -> str:
    """The password to send to the source's URL: opened now, only if it was given for that origin.
    CredentialError (French job message) otherwise: nothing is to be sent, not even anonymously (an
    anonymous listing would miss the restricted records and withdraw their datasets)."""
    try:
        return secrets.secret_for(stored, source_url)
    except secrets.OtherOrigin as error:
        raise CredentialError(tk._("The stored password was given for {stored}, not for the source's address "
                                   "({current}): it is not sent. Type the password again in the source's "
                                   "configuration.").format(stored=error.stored or "?",
                                                            current=error.current or "?")) from None
    except secrets.KeyMissing:
        raise CredentialError(tk._("No encryption key is configured (option {option}): the stored password cannot "
                                   "be decrypted. Restore the key, or type the password again in the source's "
                                   "configuration.").format(option=secrets.OPTION)) from None
    except secrets.Undecryptable:
        raise CredentialError(tk._("The stored password cannot be decrypted with the keys of the option {option} "
                                   "(key removed or changed). Restore the key, or type the password again in the "
                                   "source's configuration.").format(option=secrets.OPTION)) from None
    except secrets.KeyInvalid as error:
        raise CredentialError(error.message) from None


def basic_auth_header(config: dict[str, Any], source_url: str) -> dict[str, str]:
    """The Authorization header for the source's URL: the stored password decrypted here and now, and only
    when it was given for that URL's origin (CredentialError otherwise: nothing is to be fetched); no
    header for a config without credentials."""
    username, stored = config.get(USERNAME_KEY), config.get(PASSWORD_KEY)
    if not username or not stored:
        return {}
    password = password_for(stored, source_url)
    token = base64.b64encode(f"{username}:{password}".encode()).decode("ascii")
    return {"Authorization": f"Basic {token}"}


# --------------------------------------------------------------------------------------------- rotation


@dataclass
class Rotation:
    """What ``ckan communes secrets rotate`` did (or would do, in a dry run), per stored copy of a password
    (the harvest_source row and the source dataset's config extra)."""

    encrypted: int = 0  # were in clear
    reencrypted: int = 0  # now with the first key
    current: int = 0  # already with the first key
    undecryptable: list[str] = field(default_factory=list)  # source names
    activities_masked: int = 0


def _rotated(config: Any, url: str, rotation: Rotation, name: str) -> str | None:
    """The config text with its password encrypted with the first key; None when nothing changes."""
    data = _config_dict(config)
    password = data.get(PASSWORD_KEY) if data is not None else None
    if not password or password == PASSWORD_MASK:
        return None
    if not secrets.is_sealed(password):
        rotation.encrypted += 1
        new = secrets.seal(str(password), url)
    else:
        try:
            resealed = secrets.reseal(password)
        except secrets.Undecryptable:
            rotation.undecryptable.append(name)
            return None
        if resealed is None:
            rotation.current += 1
            return None
        rotation.reencrypted += 1
        new = resealed
    return json.dumps({**data, PASSWORD_KEY: new}, ensure_ascii=False)


def rotate_stored_passwords(*, dry_run: bool) -> Rotation:
    """Every stored source password encrypted with the first key: those in clear (stored before
    encryption, bound to the source's current URL), those under an older key; and every activity that
    kept one (recorded before passwords were masked) masked. Idempotent. KeyMissing / KeyInvalid first."""
    from ckanext.harvest.model import HarvestSource

    secrets.check_keys()
    rotation = Rotation()
    for source in model.Session.query(HarvestSource).order_by(HarvestSource.id):
        package = model.Package.get(source.id)
        name = package.name if package is not None else source.id
        new = _rotated(source.config, source.url, rotation, name)
        if new is not None:
            source.config = new
        if package is not None:
            extras = dict(package.extras or {})
            new_extra = _rotated(extras.get("config"), source.url, rotation, name)
            if new_extra is not None:
                package.extras = {**extras, "config": new_extra}
    rotation.activities_masked = _mask_activities()
    if dry_run:
        model.Session.rollback()
    else:
        model.Session.commit()
    return rotation


def _mask_activities() -> int:
    """Mask the password in every activity of a harvest source that kept one (those of purged sources
    too); only the activities whose text names a password are read."""
    if not sa.inspect(model.meta.engine).has_table("activity"):
        return 0
    from ckanext.activity.model import Activity

    masked = 0
    candidates = model.Session.query(Activity).filter(
        sa.cast(Activity.__table__.c.data, sa.Text).like(f"%{PASSWORD_KEY}%"))
    for activity in candidates:
        data = activity.data if isinstance(activity.data, dict) else None
        package = data.get("package") if data is not None else None
        if not isinstance(package, dict) or package.get("type") != "harvest":
            continue
        # A copy: the loaded value stays as it was, so that the assignment is seen as a change.
        shown = mask_source_dict(copy.deepcopy(package))
        if shown != package:
            activity.data = {**data, "package": shown}
            masked += 1
    return masked


# --------------------------------------------------------------------------------------------- actions


@tk.chained_action
@tk.side_effect_free
def package_show(up_func: Any, context: dict[str, Any], data_dict: dict[str, Any]) -> Any:
    result = up_func(context, data_dict)
    if isinstance(result, dict) and result.get("type") == "harvest":
        mask_source_dict(result)
    return result


@tk.chained_action
@tk.side_effect_free
def harvest_source_list(up_func: Any, context: dict[str, Any], data_dict: dict[str, Any]) -> Any:
    result = up_func(context, data_dict)
    for source in result if isinstance(result, list) else []:
        if isinstance(source, dict):
            mask_source_dict(source)
    return result


@tk.chained_action
def package_create(up_func: Any, context: dict[str, Any], data_dict: dict[str, Any]) -> Any:
    if isinstance(data_dict, dict):
        data_dict = prepare_for_save(context, data_dict, "package_create")
    return up_func(context, data_dict)


@tk.chained_action
def package_update(up_func: Any, context: dict[str, Any], data_dict: dict[str, Any]) -> Any:
    if isinstance(data_dict, dict):
        data_dict = prepare_for_save(context, data_dict, "package_update")
    return up_func(context, data_dict)


def get_actions() -> dict[str, Any]:
    return {"package_show": package_show, "harvest_source_list": harvest_source_list,
            "package_create": package_create, "package_update": package_update}
