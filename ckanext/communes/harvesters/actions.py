"""Chained actions on ckanext-harvest 1.6.3, and a synchronous run of one source.

- ``harvest_job_create``: a source that already has a New or Running job gets a 409 with a French
  message naming the source (ckanext-harvest raises ``HarvestJobExists``, a bare Exception: HTTP 500);
  creation is serialised per source with a PostgreSQL advisory lock, so two concurrent calls cannot both
  pass ckanext-harvest's check-then-insert and start two jobs of one source.
- ``harvest_jobs_run``: closes the stale jobs a dead worker left (stale_jobs.close_stale_jobs), then runs
  ckanext-harvest's own (scheduled jobs, finished jobs, resubmission of lost queue messages).
- ``harvest_source_reindex``: fixes the cause of ``KeyError: 'source_type'`` (see below), checks who calls
  (ckanext-harvest's checks nothing) and answers POST only; ``harvest_sources_reindex``: POST only too.
- the functions ckanext-harvest registers as actions that are none (``send_mail``, ``InactiveSource``,
  its auth functions…): refused to anyone.
- ``harvest_source_create`` / ``_update`` / ``_patch`` / ``_delete``, and ``package_create`` /
  ``package_update`` of a source (what ckanext-harvest's web forms call): a programme operator who is not a member of
  the commune can manage the commune's sources (CKAN's owner_org validator would refuse them); the change is
  recorded in the source's activity stream as anyone's (see ``_run_as_operator``); ckanext-harvest's
  validator messages, plain English strings it never passes through gettext (« Error parsing the
  configuration options: … », frequency, source type, duplicate URL), are French field errors.
- ``resource_create`` on a source: a 409 saying a source has no resources (CKAN's action fails on the
  resource ckanext-harvest's source schema drops: an IndexError, HTTP 500, even for a sysadmin).
- ``harvest_abort_failed_jobs``: ckanext-harvest checks no authorisation at all here;
  ``harvest_log_list``: its check recurses for non-sysadmins (see auth.py); ``harvest_source_list``: it
  checks nothing and lists every source to anonymous users.

Why ``ckan harvester run-test SOURCE`` fails the second time: when a job finishes, ``harvest_jobs_run``
calls ``harvest_source_reindex``, which indexes the source with ``with_custom_schema`` = the dict of
``package_show(validate=False)``: the raw package (extras as a list, no ``source_type``, ``frequency``,
``config``). CKAN 2.12's ``package_show`` then serves that dict from Solr's ``validated_data_dict`` as long
as ``metadata_modified`` matches, so every later ``harvest_source_show`` lacks ``source_type`` and
``run-test`` dies on ``source["source_type"]`` after having created a job (with ``run: True``, i.e. also
queued for the gather worker), which stays Running and blocks the source. Our ``harvest_source_reindex``
indexes the validated dict, which fixes ``run-test`` and every other reader of a finished source.
``run-test`` still queues its job *and* gathers it itself (twice, if a gather worker runs): use
``ckan communes harvest run SOURCE --sync`` (``run_source_sync``) instead.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import logging
import re
import urllib.parse
from collections.abc import Callable
from typing import Any

import ckan.plugins as p
import ckan.plugins.toolkit as tk
import sqlalchemy as sa
from ckan import authz, model
from ckan.lib.search.index import PackageSearchIndex

from ckanext.communes.communes import programme
from ckanext.communes.harvesters import queues, stages, stale_jobs, workers
from ckanext.communes.translation import N_, gettext
from ckanext.harvest.logic import HarvestJobExists, HarvestSourceInactiveError

log = logging.getLogger(__name__)

Context = dict[str, Any]
DataDict = dict[str, Any]


class HarvestJobAlreadyActive(tk.ValidationError, HarvestJobExists):
    """A 409 for the API, still a HarvestJobExists for ckanext-harvest's callers that catch it
    (``_make_scheduled_jobs``, the web UI's refresh, ``run-test``)."""


class HarvestSourceInactive(tk.ValidationError, HarvestSourceInactiveError):
    """A 409 for the API, still what ckanext-harvest's web UI catches."""


def _source_title(source: Any) -> str:
    package = model.Package.get(source.id)
    return (package.title or package.name) if package is not None else (source.title or source.id)


def _advisory_key(source_id: str) -> int:
    digest = hashlib.sha1(f"ckanext-communes:harvest-job:{source_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def _active_job(source_id: str) -> Any:
    from ckanext.harvest.model import HarvestJob

    return (model.Session.query(HarvestJob)
            .filter(HarvestJob.source_id == source_id, HarvestJob.status.in_(("New", "Running")))
            .order_by(HarvestJob.created.desc()).first())


def _job_exists_error(source: Any) -> HarvestJobAlreadyActive:
    job = _active_job(source.id)
    status = {"New": gettext("waiting"), "Running": gettext("running")}.get(getattr(job, "status", ""), "")
    message = gettext("The harvest source “{source}” already has a job ({status}, created {created}): wait "
                      "for it to finish, or stop it, before starting another.").format(
        source=_source_title(source), status=status,
        created=job.created.strftime("%Y-%m-%d %H:%M") if job is not None and job.created else "?")
    return HarvestJobAlreadyActive({"source_id": [message]})


@tk.chained_action
def harvest_job_create(up_func: Any, context: Context, data_dict: DataDict) -> Any:
    from ckanext.harvest.model import HarvestSource

    tk.check_access("harvest_job_create", context, data_dict)
    source = HarvestSource.get(str(data_dict.get("source_id") or ""))
    if source is not None:
        # Held until ckanext-harvest's job.save() commits: the next caller then sees this job.
        model.Session.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _advisory_key(source.id)})
    try:
        return up_func(context, data_dict)
    except HarvestJobExists as error:
        if isinstance(error, tk.ValidationError):
            raise
        raise _job_exists_error(source) from None
    except HarvestSourceInactiveError as error:
        if isinstance(error, tk.ValidationError):
            raise
        raise HarvestSourceInactive({"source_id": [gettext(
            "The harvest source “{source}” is inactive: activate it before starting a job.").format(
                source=_source_title(source))]}) from None


@tk.chained_action
def harvest_jobs_run(up_func: Any, context: Context, data_dict: DataDict) -> Any:
    tk.check_access("harvest_jobs_run", context, data_dict)
    closed = stale_jobs.close_stale_jobs(source_id=data_dict.get("source_id"))
    if closed:
        for job_id in closed:
            _reindex_source_of(job_id)
    return up_func(context, data_dict)


def _reindex_source_of(job_id: str) -> None:
    from ckanext.harvest.model import HarvestJob

    job = HarvestJob.get(job_id)
    if job is not None:
        tk.get_action("harvest_source_reindex")({"ignore_auth": True}, {"id": job.source_id})


@tk.chained_action
def harvest_source_reindex(up_func: Any, context: Context, data_dict: DataDict) -> bool:
    """ckanext-harvest's, except that the cached "validated" dict is the validated one, and that it
    asks who calls (operators only: auth.py).

    ckanext-harvest's never checks and is ``side_effect_free``: anyone, anonymous included, could reindex
    any source with a GET (in a loop: each reindex also empties the bilan's cache). Ours answers POST
    only (a chained action keeps none of the markers of the one it replaces). ckanext-harvest's own
    callers pass the context of a caller already checked (clear, job history, harvest_jobs_run);
    ours pass ``ignore_auth``.

    up_func is not called: it would index the unvalidated dict (the bug this replaces)."""
    tk.check_access("harvest_source_reindex", context, data_dict)
    source_id = tk.get_or_bust(data_dict, "id")
    if not isinstance(source_id, str):
        raise tk.ValidationError({"id": [gettext("Give the id or name of a harvest source.")]})
    show_context = {"model": model, "session": model.Session, "ignore_auth": True, "use_cache": False}
    raw = tk.get_action("package_show")({**show_context, "validate": False}, {"id": source_id})
    if raw.get("type") != "harvest":
        raise tk.ObjectNotFound(gettext("Harvest source not found: {source}").format(source=source_id[:200]))
    validated = tk.get_action("harvest_source_show")(dict(show_context), {"id": source_id})
    try:
        config = json.loads(validated.get("config") or "")
    except ValueError:
        config = {}
    # As ckanext-harvest does: top-level keys named like config options are not indexed.
    indexed = {key: value for key, value in raw.items() if not (isinstance(config, dict) and key in config)}
    indexed["with_custom_schema"] = validated
    PackageSearchIndex().index_package(indexed, defer_commit=bool(context.get("defer_commit", False)))
    return True


@tk.chained_action
def harvest_sources_reindex(up_func: Any, context: Context, data_dict: DataDict) -> bool:
    """Every active source reindexed, as ckanext-harvest's does, but on POST only (its is
    ``side_effect_free``: a sysadmin's browser would run it on any page's ``<img src=…>``), and each
    source through ours with ``ignore_auth`` (ckanext-harvest passes a context without the user, which
    the now-checked ``harvest_source_reindex`` would refuse)."""
    tk.check_access("harvest_sources_reindex", context, data_dict)
    source_ids = [row[0] for row in model.Session.query(model.Package.id)
                  .filter(model.Package.type == "harvest", model.Package.state == "active")]
    for source_id in source_ids:
        tk.get_action("harvest_source_reindex")({"ignore_auth": True, "defer_commit": True}, {"id": source_id})
    PackageSearchIndex().commit()
    return True


# ckanext-harvest registers every public callable of its action modules as an action, and (one shared
# dict, see auth.py) its auth functions too, when CKAN builds the auth registry first: helpers such as
# ``send_mail(recipients, subject, body)`` or the class ``InactiveSource`` answer the API with a 500
# (wrong arguments, an object JSON cannot hold), the auth function ``harvest_sources_clear`` answers a
# 200 ``{"success": …}`` (or a 500 for anonymous users). None is an action: each is refused, to anyone.
HARVEST_AUTH_MODULES = "ckanext.harvest.logic.auth"


def _is_harvest_non_action(function: Any) -> bool:
    if inspect.isclass(function):
        return True
    if getattr(function, "__module__", "").startswith(HARVEST_AUTH_MODULES):
        return True
    try:
        parameters = inspect.signature(function).parameters.values()
    except (TypeError, ValueError):
        return True
    required = [parameter for parameter in parameters if parameter.default is inspect.Parameter.empty
                and parameter.kind in (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)]
    return len(required) != 2


def harvest_non_actions() -> list[str]:
    """Names ckanext-harvest registers as actions that are not actions. Read from what it registers now:
    a chained action needs the name it chains to exist (the auth functions are in ckanext-harvest's dict
    only when CKAN built the auth registry first)."""
    plugin = p.get_plugin("harvest")
    if plugin is None:
        return []
    return sorted(name for name, function in plugin.get_actions().items() if _is_harvest_non_action(function))


def _refuse_non_action(name: str) -> Any:
    @tk.chained_action
    def refuse(up_func: Any, context: Context, data_dict: DataDict) -> Any:
        raise tk.NotAuthorized(gettext("“{name}” is an internal function of ckanext-harvest, not an action of "
                                       "the API.").format(name=name))
    refuse.__name__ = name
    return refuse


def _as_operator(context: Context) -> Context:
    """An operator who is no member of the owner commune would be refused by CKAN's owner_org validator
    (and package_* auth); our auth functions already said yes. (A shallow copy: the auth audit stack
    stays shared.)"""
    user = context.get("user")
    if programme.is_programme_operator(user) and not authz.is_sysadmin(user):
        return {**context, "ignore_auth": True}
    return context


# What CKAN's actions write into their context for whoever called them. ``package_update`` notes there
# the datasets it changed, and the activity plugin records a "changed package" only when it finds them in
# the context the action was called with (its ``action_succeeded`` signal's): written into a copy, an
# operator's edit of a source left no activity.
CONTEXT_RESULTS = ("changed_entities",)


def _run_as_operator(up_func: Any, context: Context, data_dict: DataDict) -> Any:
    """``up_func`` with :func:`_as_operator`'s context; what CKAN wrote into that copy for the caller is
    carried back into the caller's context (never ``ignore_auth``)."""
    operator_context = _as_operator(context)
    result = up_func(operator_context, data_dict)
    if operator_context is not context:
        for key in CONTEXT_RESULTS:
            if key in operator_context:
                context[key] = operator_context[key]
    return result


# ckanext-harvest's validators (logic/validators.py) raise plain English strings, never passed through
# gettext: the French form and API showed « Error parsing the configuration options: » before our French
# message. Each is matched whole and said again in French.
def _known_source_types() -> str:
    from ckanext.harvest.interfaces import IHarvester

    return ", ".join(sorted(harvester.info()["name"] for harvester in p.PluginImplementations(IHarvester)))


def _known_frequencies() -> str:
    from ckanext.harvest.model import UPDATE_FREQUENCIES

    return ", ".join(UPDATE_FREQUENCIES)


HARVEST_VALIDATOR_MESSAGES: list[tuple[re.Pattern[str], Callable[[re.Match[str]], str]]] = [
    (re.compile(r"Error parsing the configuration options: (?P<error>.*)", re.S),
     lambda m: gettext("Invalid configuration: {error}").format(error=m["error"])),
    (re.compile(r"Frequency (?P<value>.*) not recognised", re.S),
     lambda m: gettext("Unknown update frequency “{value}” (known: {known}).").format(
         value=m["value"][:80], known=_known_frequencies())),
    (re.compile(r"Unknown harvester type: (?P<value>.*?)\. Registered types: .*", re.S),
     lambda m: gettext("Unknown source type “{value}” (known: {known}).").format(
         value=m["value"][:80], known=_known_source_types())),
    # The configuration is not repeated: a CSW source's holds a password.
    (re.compile(r"There already is a Harvest Source for this URL \(& config\): url=(?P<url>.*?) config=.*", re.S),
     lambda m: gettext("A harvest source already reads this address with the same configuration: {url}.").format(
         url=m["url"][:200])),
]


def _french_message(message: Any) -> Any:
    if isinstance(message, str):
        for pattern, french in HARVEST_VALIDATOR_MESSAGES:
            match = pattern.fullmatch(message)
            if match:
                return french(match)
    return message


def translate_harvest_errors(error: tk.ValidationError) -> None:
    """ckanext-harvest's English validator messages in ``error`` said in French (in place)."""
    for field, messages in (error.error_dict or {}).items():
        if isinstance(messages, list):
            error.error_dict[field] = [_french_message(message) for message in messages]


def _source_save(up_func: Any, context: Context, data_dict: DataDict) -> Any:
    """Save a source as an operator (:func:`_run_as_operator`), its validators' errors in French."""
    try:
        return _run_as_operator(up_func, context, data_dict)
    except tk.ValidationError as error:
        translate_harvest_errors(error)
        raise


@tk.chained_action
def harvest_source_create(up_func: Any, context: Context, data_dict: DataDict) -> Any:
    tk.check_access("harvest_source_create", context, data_dict)
    return _source_save(up_func, context, data_dict)


@tk.chained_action
def harvest_source_update(up_func: Any, context: Context, data_dict: DataDict) -> Any:
    tk.check_access("harvest_source_update", context, data_dict)
    return _source_save(up_func, context, data_dict)


@tk.chained_action
def harvest_source_patch(up_func: Any, context: Context, data_dict: DataDict) -> Any:
    # Not "harvest_source_patch": under that auth name ckanext-harvest registers its patch *action*.
    tk.check_access("harvest_source_update", context, data_dict)
    return _source_save(up_func, context, data_dict)


harvest_source_patch.auth_audit_exempt = True  # type: ignore[attr-defined]


@tk.chained_action
def harvest_source_delete(up_func: Any, context: Context, data_dict: DataDict) -> Any:
    tk.check_access("harvest_source_delete", context, data_dict)
    return _run_as_operator(up_func, context, data_dict)


MAX_SOURCE_URL_LENGTH = 2000


def check_source_url(data_dict: DataDict) -> None:
    """A source URL is an http(s) URL that parses: ckanext-harvest's own check raises (HTTP 500) on
    "http://[x/a" and accepts ftp:// or file:// addresses the harvest could never read."""
    url = (data_dict or {}).get("url")
    if url is None:
        return
    message = None
    if not isinstance(url, str) or not url.strip() or len(url) > MAX_SOURCE_URL_LENGTH:
        message = gettext("Give the http:// or https:// address of the source (at most 2,000 characters).")
    else:
        try:
            parts = urllib.parse.urlsplit(url.strip())
            parts.port  # noqa: B018 - raises ValueError for a port that is not a number
        except ValueError:
            parts = None
        if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
            message = gettext("Give the http:// or https:// address of the source: {url} is not one.").format(
                url=url.strip()[:200])
        elif parts.username is not None or parts.password is not None:
            # A URL is stored and shown in clear: credentials belong in the configuration, stored encrypted.
            message = gettext("Give the address without a user name or password: a CSW source takes them in its "
                              "configuration (\"username\", \"password\"), stored encrypted.")
    if message:
        raise tk.ValidationError({"url": [message]})


@tk.chained_action
def package_create(up_func: Any, context: Context, data_dict: DataDict) -> Any:
    """ckanext-harvest's web form creates a source with package_create (type "harvest")."""
    if (data_dict or {}).get("type") == "harvest":
        tk.check_access("package_create", context, data_dict)
        check_source_url(data_dict)
        return _source_save(up_func, context, data_dict)
    return up_func(context, data_dict)


@tk.chained_action
def package_update(up_func: Any, context: Context, data_dict: DataDict) -> Any:
    """ckanext-harvest's edit form updates a source with package_update."""
    package = model.Package.get(str((data_dict or {}).get("id") or (data_dict or {}).get("name") or ""))
    if package is not None and package.type == "harvest":
        tk.check_access("package_update", context, data_dict)
        check_source_url(data_dict)
        return _source_save(up_func, context, data_dict)
    return up_func(context, data_dict)


# How CKAN's forms label that field in their error summary (ValidationError.error_summary: the key through
# gettext, "Package id", a msgid CKAN's French catalogue lacks).
PACKAGE_ID_LABEL = N_("Package id")


@tk.chained_action
def resource_create(up_func: Any, context: Context, data_dict: DataDict) -> Any:
    """A source is a dataset to CKAN, but ckanext-harvest's source schema has no resources: CKAN's
    resource_create saved none and then read the last one (IndexError, a 500, even for a sysadmin).
    Whoever may not edit the source hears CKAN's refusal first (403)."""
    package = model.Package.get(str((data_dict or {}).get("package_id") or ""))
    if package is not None and package.type == "harvest":
        tk.check_access("resource_create", context, data_dict)
        raise tk.ValidationError({"package_id": [gettext(
            "A harvest source has no resources: it names a remote catalogue, whose datasets are harvested with "
            "their own resources.")]})
    return up_func(context, data_dict)


@tk.chained_action
@tk.side_effect_free
def harvest_source_list(up_func: Any, context: Context, data_dict: DataDict) -> Any:
    """ckanext-harvest checks nothing and lists every source (URL, configuration) to anonymous users,
    none to other users: operators only, and then all of them."""
    tk.check_access("harvest_source_list", context, data_dict)
    if authz.is_sysadmin(context.get("user")):
        return up_func(context, data_dict)
    return up_func({**context, "user": workers.site_user_context()["user"]}, data_dict)


@tk.chained_action
def harvest_abort_failed_jobs(up_func: Any, context: Context, data_dict: DataDict) -> Any:
    # ckanext-harvest checks nothing here (anyone could abort every job); aborting is running's right.
    tk.check_access("harvest_jobs_run", context, data_dict)
    return up_func(context, data_dict)


harvest_abort_failed_jobs.auth_audit_exempt = True  # type: ignore[attr-defined]


@tk.chained_action
@tk.side_effect_free
def harvest_log_list(up_func: Any, context: Context, data_dict: DataDict) -> Any:
    """The harvest log spans every source: operators only. ckanext-harvest's own check of
    "harvest_log_list" finds its action registered as the auth function (see auth.py) and recurses for
    anyone but a sysadmin: once ours passed, it is skipped."""
    tk.check_access("harvest_jobs_run", context, data_dict)
    return up_func({**context, "ignore_auth": True}, data_dict)


@tk.chained_action
@tk.side_effect_free
def harvest_get_notifications_recipients(up_func: Any, context: Context, data_dict: DataDict) -> Any:
    """ckanext-harvest mails a job's errors (``ckan.harvest.status_mail.errored``) to sysadmins and the
    admins of the source's organisation: for a commune's source, that leaves out the programme operators
    who run the harvests. They are added (once each)."""
    recipients = list(up_func(context, data_dict) or [])
    seen = {str(r.get("email", "")).strip().lower() for r in recipients}
    metropole = model.Group.get(programme.metropole_org_name())
    if metropole is not None and metropole.state == "active":
        admins = (model.Session.query(model.User)
                  .join(model.Member, sa.and_(model.Member.table_id == model.User.id,
                                              model.Member.table_name == "user"))
                  .filter(model.Member.group_id == metropole.id, model.Member.capacity == "admin",
                          model.Member.state == "active", model.User.state == "active"))
        for user in admins:
            email = (user.email or "").strip()
            if email and email.lower() not in seen:
                seen.add(email.lower())
                recipients.append({"name": user.name, "email": email})
    return recipients


def get_actions() -> dict[str, Any]:
    return {
        "harvest_get_notifications_recipients": harvest_get_notifications_recipients,
        "harvest_job_create": harvest_job_create,
        "harvest_jobs_run": harvest_jobs_run,
        "harvest_source_reindex": harvest_source_reindex,
        "harvest_sources_reindex": harvest_sources_reindex,
        "harvest_source_create": harvest_source_create,
        "harvest_source_update": harvest_source_update,
        "harvest_source_patch": harvest_source_patch,
        "harvest_source_delete": harvest_source_delete,
        "harvest_abort_failed_jobs": harvest_abort_failed_jobs,
        "harvest_log_list": harvest_log_list,
        "harvest_source_list": harvest_source_list,
        "package_create": package_create,
        "package_update": package_update,
        "resource_create": resource_create,
        **{name: _refuse_non_action(name) for name in harvest_non_actions()},
    }


# --------------------------------------------------------------------------------------------------
# A synchronous run (what `ckan harvester run-test` means to do)

def find_source(source_id_or_name: str) -> Any:
    from ckanext.harvest.model import HarvestSource

    source = HarvestSource.get(source_id_or_name)
    if source is None:
        package = model.Package.get(source_id_or_name)
        source = HarvestSource.get(package.id) if package is not None and package.type == "harvest" else None
    if source is None:
        raise tk.ObjectNotFound(gettext("Harvest source not found: {source}").format(source=source_id_or_name))
    return source


SYNC_LOAD_BATCH = 100


def run_source_sync(source_id_or_name: str) -> dict[str, Any]:
    """Create a job for the source and run gather, fetch and import here: ckanext-harvest's
    ``gather_stage``, then stages.py's ``fetch_and_import`` for each object, as the fetch worker does.
    The job is closed whatever happens (an exception, Ctrl-C). Refused (409) when the source already has
    a job. Returns ``harvest_job_show``'s dict."""
    from ckanext.harvest import queue
    from ckanext.harvest.model import HarvestJob, HarvestObject

    context = workers.site_user_context()
    source = find_source(source_id_or_name)
    harvester = queue.get_harvester(source.type)  # the model's type: no dependence on the search cache
    if harvester is None:
        raise tk.ValidationError({"source_type": [gettext("No harvester is registered for the source type "
                                                          "“{type}”.").format(type=source.type)]})
    job_id = tk.get_action("harvest_job_create")(dict(context), {"source_id": source.id, "run": False})["id"]
    job = HarvestJob.get(job_id)
    job.status = "Running"
    job.save()
    failure: BaseException | None = None
    try:
        with queues.job_heartbeat(job_id):
            object_ids = queue.gather_stage(harvester, job)
            object_ids = object_ids if isinstance(object_ids, list) else []
            # In flight before the first import: the portal's periodic runner must not hand them to the
            # fetch workers meanwhile (stages.py); one a fetch worker already took is left to it.
            taken = stages.mark_in_flight(job_id)
            object_ids = [object_id for object_id in object_ids if object_id in taken]
            loaded: dict[str, Any] = {}
            for index, object_id in enumerate(object_ids):
                if index % SYNC_LOAD_BATCH == 0:
                    # A batch of objects per query rather than one query each (the session keeps them
                    # across commits: CKAN's sessions do not expire on commit).
                    batch = object_ids[index:index + SYNC_LOAD_BATCH]
                    loaded = {o.id: o for o in model.Session.query(HarvestObject).filter(HarvestObject.id.in_(batch))}
                obj = loaded.get(object_id)
                if obj is None or obj not in model.Session:  # not loaded, or the session was renewed
                    obj = HarvestObject.get(object_id)
                stages.fetch_and_import(harvester, obj)
    except BaseException as error:  # noqa: BLE001 - closed below, then re-raised
        failure = error
        model.Session.rollback()
    finally:
        _close_sync_job(context, job_id, source.id, failure)
    if failure is not None:
        raise failure
    return tk.get_action("harvest_job_show")(dict(context), {"id": job_id})


def _close_sync_job(context: Context, job_id: str, source_id: str, failure: BaseException | None) -> None:
    from ckanext.harvest.model import HarvestJob

    if failure is None:
        try:
            # ckanext-harvest's own closing (finish time, source reindex, notification e-mails).
            tk.get_action("harvest_jobs_run")(dict(context), {"source_id": source_id})
        except Exception:  # noqa: BLE001 - Redis down (resubmission), say: close it ourselves below
            log.exception("harvest_jobs_run failed while closing job %s", job_id)
            model.Session.rollback()
    job = HarvestJob.get(job_id)
    if job is not None and job.status != "Finished":
        message = None
        if failure is not None:
            message = gettext("Job interrupted: {error}").format(
                error=(str(failure) or type(failure).__name__)[:500])
        stale_jobs.finish_job(job, message)
        tk.get_action("harvest_source_reindex")({"ignore_auth": True}, {"id": source_id})
