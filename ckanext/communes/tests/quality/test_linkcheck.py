"""Link checking of resource URLs against a real HTTP server on 127.0.0.1: what one check finds (reachable,
404, 500, timeout, redirect loop, redirect to a private address, oversize, HEAD refused), what is stored
across checks (failures counted, failing since kept, reset when fixed), what the resource page says in
French, the job through CKAN's real queue, enqueueing only changed links, and the per-host rate limit."""

from __future__ import annotations

import datetime as dt
import threading
import time
from typing import Any

import pytest
from ckan import model
from ckan.tests import helpers

from ckanext.communes.net.fetch import FetchLimits
from ckanext.communes.quality import cli as quality_cli
from ckanext.communes.quality import evidence, host_limiter, link_probe, linkcheck, models, options
from ckanext.communes.quality import helpers as quality_helpers

pytestmark = pytest.mark.usefixtures("clean_db", "clean_index", "allow_private_addresses")


@pytest.fixture(autouse=True)
def _fast_checks(ckan_config, monkeypatch):
    """No spacing between requests (the rate-limit test sets its own), short timeouts."""
    monkeypatch.setitem(ckan_config, "ckanext.communes.linkcheck.per_host_interval", "0")
    monkeypatch.setitem(ckan_config, "ckanext.communes.linkcheck.timeout", "1")


def _dataset(user: dict[str, Any], org: dict[str, Any], urls: list[str], name: str = "arbres") -> dict[str, Any]:
    return helpers.call_action(
        "package_create", context={"user": user["name"]}, name=name, title="Arbres remarquables",
        notes="Les arbres remarquables de la commune.", owner_org=org["id"], theme=["ENVI"],
        resources=[{"url": url, "name": f"Ressource {i}"} for i, url in enumerate(urls)],
    )


def _french(app, code: str | None, status: int | None = None) -> str | None:
    """The stored reason code as a page (French locale, the portal's default) shows it."""
    with app.flask_app.test_request_context():
        return evidence.message_for(code, status)


def _row(resource_id: str) -> models.LinkCheck:
    model.Session.expire_all()
    return model.Session.get(models.LinkCheck, resource_id)


# --- one URL ------------------------------------------------------------------------------------------


def test_a_reachable_link_is_ok_with_its_status_media_type_and_size(source_server):
    source_server.serve("/arbres.csv", "a;b\n1;2\n", content_type="text/csv; charset=utf-8")
    outcome = link_probe.check_url(source_server.url("/arbres.csv"))
    assert (outcome.ok, outcome.status, outcome.media_type, outcome.size) == (True, 200, "text/csv", 8)
    assert outcome.method == "HEAD"
    # HEAD only: nothing was downloaded.
    assert [m for m, p, _q in source_server.requests if p == "/arbres.csv"] == ["HEAD"]


@pytest.mark.parametrize("status", [404, 500])
def test_a_404_or_500_is_broken_with_its_status_in_french(app, source_server, status):
    source_server.fail("/arbres.csv", status=status)
    outcome = link_probe.check_url(source_server.url("/arbres.csv"))
    assert (outcome.ok, outcome.status, outcome.error) == (False, status, "http_status")
    assert _french(app, outcome.error, outcome.status) == f"Le serveur a répondu HTTP {status}."
    # Not a HEAD refusal: no second request.
    assert source_server.requested("/arbres.csv") == 1


def test_a_server_that_does_not_answer_in_time_is_a_timeout(app, source_server):
    source_server.slow("/lent.csv", 3)
    started = time.monotonic()
    outcome = link_probe.check_url(source_server.url("/lent.csv"))
    assert time.monotonic() - started < 2.5
    assert (outcome.ok, outcome.error) == (False, "timeout")
    assert _french(app, "timeout") == "Le serveur n'a pas répondu à temps."


def test_a_redirect_loop_is_broken_after_the_cap(source_server):
    source_server.redirect("/a", "/b")
    source_server.redirect("/b", "/a")
    outcome = link_probe.check_url(source_server.url("/a"))
    assert (outcome.ok, outcome.error) == (False, "too_many_redirects")
    assert source_server.requested("/a") + source_server.requested("/b") == 6  # 5 redirects allowed, then stop


def test_a_redirect_is_followed_to_the_final_url(source_server):
    source_server.serve("/nouveau.csv", "a\n", content_type="text/csv")
    source_server.redirect("/ancien.csv", "/nouveau.csv", status=301)
    outcome = link_probe.check_url(source_server.url("/ancien.csv"))
    assert outcome.ok and outcome.final_url == source_server.url("/nouveau.csv")


def test_a_redirect_to_a_host_that_does_not_resolve_names_that_host(app, source_server):
    source_server.redirect("/deplace.csv", "http://serveur-disparu.invalid/deplace.csv")
    outcome = link_probe.check_url(source_server.url("/deplace.csv"))
    assert (outcome.ok, outcome.error) == (False, "dns:serveur-disparu.invalid")
    assert _french(app, outcome.error) == "Le nom d'hôte serveur-disparu.invalid est introuvable."


def test_a_redirect_to_a_private_address_is_refused_and_the_reason_recorded(app, source_server, monkeypatch):
    # Our server is reachable (127.0.0.1 allowed by name), any other private address is not.
    monkeypatch.setattr(options, "linkcheck_limits", lambda: FetchLimits(
        timeout=1, max_redirects=5, allow_private=False, allowed_networks=("127.0.0.1/32",)))
    source_server.redirect("/fuite", "http://10.0.0.1/metadata")
    outcome = link_probe.check_url(source_server.url("/fuite"))
    assert (outcome.ok, outcome.error) == (False, "private_address")  # the address is not kept (issue #17)
    assert _french(app, outcome.error) == (
        "Le lien mène à une adresse qui n'est pas publique : il n'est pas vérifié.")


def test_a_private_address_is_refused_without_connecting(monkeypatch, ckan_config):
    monkeypatch.setitem(ckan_config, "ckanext.communes.fetch.allow_private_addresses", False)
    outcome = link_probe.check_url("http://127.0.0.1:9/x.csv")
    assert (outcome.ok, outcome.error) == (False, "private_address")


def test_an_oversize_file_is_reachable_its_size_reported_and_never_downloaded(source_server, ckan_config,
                                                                              monkeypatch):
    """Decision: the link works (a browser downloads it); the page says it is large. HEAD refused and an
    endless body behind the ranged GET: the check still returns at once."""
    monkeypatch.setitem(ckan_config, "ckanext.communes.harvest.max_response_bytes", "1000")
    source_server.serve("/gros.zip", b"", content_type="application/zip",
                        headers={"Content-Length": "5000000000"})
    outcome = link_probe.check_url(source_server.url("/gros.zip"))
    assert (outcome.ok, outcome.size) == (True, 5_000_000_000)

    def head_refused_endless(method: str, path: str, query: str, body: bytes):
        return (405, {}, b"") if method == "HEAD" else (200, {"Content-Type": "application/zip"}, b"x" * 5_000_000)

    source_server.handle("/sans-fin.zip", head_refused_endless)
    started = time.monotonic()
    outcome = link_probe.check_url(source_server.url("/sans-fin.zip"))
    assert outcome.ok and outcome.size == 5_000_000 and outcome.method == "GET"
    assert time.monotonic() - started < 1


def test_head_refused_then_a_ranged_get_answered_206(source_server):
    def no_head(method: str, path: str, query: str, body: bytes):
        if method == "HEAD":
            return 405, {"Allow": "GET"}, b""
        return 206, {"Content-Type": "text/csv", "Content-Range": "bytes 0-0/12345", "Content-Length": "1"}, b"a"

    source_server.handle("/donnees.csv", no_head)
    outcome = link_probe.check_url(source_server.url("/donnees.csv"))
    assert (outcome.ok, outcome.status, outcome.size, outcome.method) == (True, 206, 12345, "GET")
    assert [m for m, _p, _q in source_server.requests] == ["HEAD", "GET"]
    assert source_server.headers[1]["range"] == "bytes=0-0"


# --- stored results -----------------------------------------------------------------------------------


def test_consecutive_failures_are_counted_failing_since_kept_and_a_fixed_link_resets_them(
        app, source_server, sysadmin, bron, monkeypatch):
    source_server.fail("/arbres.csv", status=404)
    dataset = _dataset(sysadmin, bron, [source_server.url("/arbres.csv")])
    resource_id = dataset["resources"][0]["id"]
    refreshed: list[str] = []
    monkeypatch.setattr(evidence, "refresh", refreshed.append)

    linkcheck.check_dataset_now(dataset["id"])
    first = _row(resource_id)
    failing_since = first.failing_since
    assert (first.status, first.consecutive_failures, first.error) == (404, 1, "http_status")
    # Broken: re-checked sooner than a working link (retry_hours, default 6 h).
    assert first.next_check_at - first.checked_at == dt.timedelta(hours=6)

    linkcheck.check_dataset_now(dataset["id"])
    second = _row(resource_id)
    assert second.consecutive_failures == 2 and second.failing_since == failing_since
    assert second.next_check_at - second.checked_at == dt.timedelta(hours=12)  # backing off
    with app.flask_app.test_request_context():
        [result] = evidence.link_results_for(dataset["id"]).values()
    assert result.ok is False and result.failing_since == failing_since and result.consecutive_failures == 2
    assert result.error == "Le serveur a répondu HTTP 404."

    source_server.serve("/arbres.csv", "a\n", content_type="text/csv")
    linkcheck.check_dataset_now(dataset["id"])
    fixed = _row(resource_id)
    assert (fixed.status, fixed.consecutive_failures, fixed.failing_since, fixed.error) == (200, 0, None, None)
    assert fixed.next_check_at - fixed.checked_at == dt.timedelta(days=7)
    # The score is refreshed when the result changed (first check, fixed), not when it stayed broken.
    assert refreshed == [dataset["id"], dataset["id"]]


def test_results_for_says_never_checked_for_a_new_or_changed_url(source_server, sysadmin, bron):
    source_server.serve("/a.csv", "a\n", content_type="text/csv")
    dataset = _dataset(sysadmin, bron, [source_server.url("/a.csv")])
    [result] = evidence.link_results_for(dataset["id"]).values()
    assert result.ok is None
    linkcheck.check_dataset_now(dataset["id"])
    assert [r.ok for r in evidence.link_results_for(dataset["id"]).values()] == [True]
    resource = dict(dataset["resources"][0], url=source_server.url("/b.csv"))
    helpers.call_action("resource_update", context={"user": sysadmin["name"]}, **resource)
    assert [r.ok for r in evidence.link_results_for(dataset["id"]).values()] == [None]


def test_the_resource_page_shows_the_french_status(app, source_server, sysadmin, bron):
    source_server.serve("/ok.csv", "a\n", content_type="text/csv")
    source_server.fail("/casse.csv", status=404)
    dataset = _dataset(sysadmin, bron, [source_server.url("/ok.csv"), source_server.url("/casse.csv")])
    linkcheck.check_dataset_now(dataset["id"])
    ok_id, broken_id = (r["id"] for r in dataset["resources"])

    page = app.get(f"/dataset/{dataset['name']}/resource/{ok_id}").body
    assert "Lien vérifié le" in page and 'data-link-ok="yes"' in page
    page = app.get(f"/dataset/{dataset['name']}/resource/{broken_id}").body
    assert "Lien cassé depuis" in page and "Le serveur a répondu HTTP 404." in page
    assert "1 vérification(s) en échec d'affilée" in page


def test_the_snippet_says_checked_broken_or_not_yet_in_french(app, source_server, sysadmin, bron, monkeypatch):
    import ckan.lib.helpers as h
    import ckan.plugins.toolkit as tk

    monkeypatch.setitem(h.helper_functions, "communes_link_status", quality_helpers.communes_link_status)
    source_server.serve("/ok.csv", "a\n", content_type="text/csv")
    source_server.fail("/casse.csv", status=500)
    dataset = _dataset(sysadmin, bron, [source_server.url("/ok.csv"), source_server.url("/casse.csv")])
    ok, broken = dataset["resources"]
    with app.flask_app.test_request_context():
        assert "Lien pas encore vérifié." in tk.render_snippet("quality/snippets/link_status.html", {"res": ok})
        linkcheck.check_dataset_now(dataset["id"])
        shown = tk.render_snippet("quality/snippets/link_status.html", {"res": ok})
        assert "Lien vérifié le" in shown and "(HTTP 200)" in shown
        shown = tk.render_snippet("quality/snippets/link_status.html", {"res": broken})
        assert "Lien cassé depuis le" in shown and "Le serveur a répondu HTTP 500." in shown
        assert tk.render_snippet("quality/snippets/link_status.html",
                                 {"res": {"id": "x", "url": "a.csv", "url_type": "upload"}}).strip() == ""


# --- jobs ---------------------------------------------------------------------------------------------


def test_the_check_runs_as_a_job_through_the_real_queue(source_server, sysadmin, bron, monkeypatch):
    from ckan.lib import jobs

    source_server.serve("/a.csv", "a\n", content_type="text/csv")
    dataset = _dataset(sysadmin, bron, [source_server.url("/a.csv")])
    jobs.get_queue().empty()
    assert linkcheck.enqueue_dataset(dataset["id"]) == 1
    # Queued, not run: nothing stored, nothing requested.
    assert evidence.link_results_for(dataset["id"])[dataset["resources"][0]["id"]].ok is None
    [job] = jobs.get_queue().jobs
    assert job.func_name.endswith("check_dataset_job")
    jobs.Worker().work(burst=True)
    model.Session.expire_all()
    assert evidence.link_results_for(dataset["id"])[dataset["resources"][0]["id"]].ok is True
    assert source_server.requested("/a.csv") == 1


def test_after_an_edit_only_new_or_changed_links_are_checked_and_removed_ones_dropped(source_server, sysadmin,
                                                                                      bron):
    """The link step of the dataset's quality job (background.py): what changed since the last check."""
    source_server.serve("/a.csv", "a\n", content_type="text/csv")
    source_server.serve("/b.csv", "b\n", content_type="text/csv")
    source_server.serve("/b2.csv", "b2\n", content_type="text/csv")
    source_server.serve("/c.csv", "c\n", content_type="text/csv")
    dataset = _dataset(sysadmin, bron, [source_server.url("/a.csv"), source_server.url("/b.csv")])
    linkcheck.check_dataset_now(dataset["id"])
    assert (source_server.requested("/a.csv"), source_server.requested("/b.csv")) == (1, 1)

    # Another field edited, links unchanged: nothing requested.
    helpers.call_action("package_patch", context={"user": sysadmin["name"]}, id=dataset["id"], title="Arbres")
    assert linkcheck.check_changed_now(dataset["id"]) == 0
    assert (source_server.requested("/a.csv"), source_server.requested("/b.csv")) == (1, 1)

    # One link changed, one added: those two only.
    resources = [dict(r) for r in dataset["resources"]]
    resources[1]["url"] = source_server.url("/b2.csv")
    resources.append({"url": source_server.url("/c.csv"), "name": "C"})
    updated = helpers.call_action("package_patch", context={"user": sysadmin["name"]}, id=dataset["id"],
                                  resources=resources)
    assert linkcheck.check_changed_now(dataset["id"]) == 2
    assert [source_server.requested(p) for p in ("/a.csv", "/b.csv", "/b2.csv", "/c.csv")] == [1, 1, 1, 1]
    model.Session.expire_all()
    assert {rid: r.ok for rid, r in evidence.link_results_for(dataset["id"]).items()} == {
        r["id"]: True for r in updated["resources"]}

    # A resource removed, another turned into an upload: their rows dropped, nothing requested.
    kept = dict(updated["resources"][0])
    uploaded = dict(updated["resources"][1], url="arbres.csv", url_type="upload")
    helpers.call_action("package_patch", context={"user": sysadmin["name"]}, id=dataset["id"],
                        resources=[kept, uploaded])
    assert linkcheck.check_changed_now(dataset["id"]) == 0
    model.Session.expire_all()
    rows = model.Session.query(models.LinkCheck.resource_id).filter_by(package_id=dataset["id"]).all()
    assert [row.resource_id for row in rows] == [kept["id"]]
    assert [source_server.requested(p) for p in ("/a.csv", "/b.csv", "/b2.csv", "/c.csv")] == [1, 1, 1, 1]


def test_package_create_and_update_check_new_links_through_the_quality_checks(source_server, sysadmin, bron):
    """Wired by plugin.py (after_dataset_create/update): a save marks the dataset waiting for its checks, a
    worker's drain checks the links; a save that moves no link requests nothing."""
    from ckan.lib import jobs

    from ckanext.communes.quality import background

    queues = [background.PRIORITY_QUEUE, "default", background.BULK_QUEUE]
    source_server.serve("/a.csv", "a\n", content_type="text/csv")
    for queue in queues:
        jobs.get_queue(queue).empty()
    dataset = _dataset(sysadmin, bron, [source_server.url("/a.csv")])
    assert background.waiting_count() == 1
    assert source_server.requested("/a.csv") == 0  # the save did not wait for the link
    jobs.Worker(queues).work(burst=True)
    model.Session.expire_all()
    assert [r.ok for r in evidence.link_results_for(dataset["id"]).values()] == [True]
    assert source_server.requested("/a.csv") == 1 and background.waiting_count() == 0

    helpers.call_action("package_patch", context={"user": sysadmin["name"]}, id=dataset["id"], title="Autre")
    jobs.Worker(queues).work(burst=True)
    assert source_server.requested("/a.csv") == 1


def test_the_rate_limit_spreads_the_checks_of_one_host(source_server, sysadmin, bron, ckan_config,
                                                       monkeypatch):
    from ckan.lib.redis import connect_to_redis

    interval = 0.3
    monkeypatch.setitem(ckan_config, "ckanext.communes.linkcheck.per_host_interval", str(interval))
    connect_to_redis().delete(host_limiter.REDIS_KEY.format(host="127.0.0.1"))
    starts: list[float] = []
    lock = threading.Lock()

    def record(method: str, path: str, query: str, body: bytes):
        with lock:
            starts.append(time.monotonic())
        return 200, {"Content-Type": "text/csv"}, b""

    urls = []
    for index in range(5):
        source_server.handle(f"/f{index}.csv", record)
        urls.append(source_server.url(f"/f{index}.csv"))
    outcomes = link_probe.check_urls(urls, threads=5)
    assert all(o.ok for o in outcomes.values())
    gaps = [b - a for a, b in zip(sorted(starts), sorted(starts)[1:], strict=False)]
    assert len(starts) == 5 and min(gaps) >= interval - 0.05, gaps


def test_the_cli_checks_one_communes_links_synchronously(source_server, sysadmin, bron):
    from click.testing import CliRunner

    source_server.serve("/a.csv", "a\n", content_type="text/csv")
    source_server.fail("/b.csv", status=500)
    dataset = _dataset(sysadmin, bron, [source_server.url("/a.csv"), source_server.url("/b.csv")])
    result = CliRunner().invoke(quality_cli.linkcheck, ["--commune", "69029", "--sync"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "1 dataset(s), 2 link(s) checked, 1 broken." in result.output
    assert [r.ok for r in evidence.link_results_for(dataset["id"]).values()].count(False) == 1


def test_the_schedule_picks_never_checked_and_due_links_only(source_server, sysadmin, bron):
    source_server.serve("/a.csv", "a\n", content_type="text/csv")
    dataset = _dataset(sysadmin, bron, [source_server.url("/a.csv")])
    assert linkcheck.due_dataset_ids() == [dataset["id"]]  # never checked
    linkcheck.check_dataset_now(dataset["id"])
    assert linkcheck.due_dataset_ids() == []  # fine: next check in 7 days
    assert linkcheck.due_dataset_ids(dt.datetime.utcnow() + dt.timedelta(days=8)) == [dataset["id"]]
