"""``skimd web``'s rules, each against the ASGI app through httpx's ASGITransport:
login, session cookie, CSRF, logout, read-only, confirmation, throttling, and the pages'
reads over fake parts (tests/integration/web/fakes.py)."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal

import pytest

from skimd.domain.reviews import Review
from tests.integration.web.fakes import (
    CHART,
    EQUITY,
    PASSWORD,
    RANGE_PNG,
    SESSION_SECRET,
    Browser,
    WebRig,
    make_rig,
)

TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


def token(client: Browser, path: str = "/login") -> str:
    page = client.get(path)
    assert page.status_code == 200, page.text
    found = TOKEN.search(page.text)
    assert found is not None
    return found.group(1)


def actions(rig: WebRig) -> list[tuple[str, dict[str, object]]]:
    """What the daemon was asked to do (reading its status aside)."""
    return [call for call in rig.control.calls if call[0] != "status"]


def logged_in(rig: WebRig) -> Browser:
    client = Browser(rig.app)
    answer = client.post("/login", data={"csrf_token": token(client), "password": PASSWORD})
    assert answer.status_code == 303 and answer.headers["location"] == "/"
    return client


@pytest.mark.parametrize("path", ["/", "/journal", "/journal/1", "/stats", "/stats/equity.png",
                                  "/today/chart/VPL.png",
                                  "/journal/1/chart/3.png", "/desk/confirm?action=lock"])
def test_every_page_needs_a_login(path: str) -> None:
    client = Browser(make_rig().app)
    answer = client.get(path)
    assert answer.status_code == 303 and answer.headers["location"] == "/login"


def test_a_wrong_password_is_refused_and_opens_no_session() -> None:
    client = Browser(make_rig().app)
    answer = client.post("/login", data={"csrf_token": token(client), "password": "guess"})
    assert answer.status_code == 401 and "Wrong password" in answer.text
    assert client.get("/").headers["location"] == "/login"


def test_the_right_password_opens_a_session_with_a_strict_http_only_cookie() -> None:
    rig = make_rig()
    client = Browser(rig.app)
    answer = client.post("/login", data={"csrf_token": token(client), "password": PASSWORD})
    cookie = answer.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie
    assert "secure" not in cookie.replace("samesite", "")  # plain HTTP on loopback
    today = client.get("/")
    assert today.status_code == 200 and "QMT" in today.text


def test_the_cookie_is_secure_when_served_over_tls() -> None:
    client = Browser(make_rig(secure=True).app, base_url="https://testserver")
    answer = client.post("/login", data={"csrf_token": token(client), "password": PASSWORD})
    assert answer.status_code == 303
    assert "; secure" in answer.headers["set-cookie"].lower()


def test_a_post_without_the_sessions_csrf_token_is_refused_and_does_nothing() -> None:
    rig = make_rig()
    client = logged_in(rig)
    for sent in ({}, {"csrf_token": "forged"}):
        answer = client.post("/desk/act", data={**sent, "action": "lock", "confirm": "yes"})
        assert answer.status_code == 403
    assert actions(rig) == []
    fresh = Browser(rig.app)  # login itself needs the token
    assert fresh.post("/login", data={"password": PASSWORD}).status_code == 403
    assert client.post("/logout", data={}).status_code == 403
    assert client.get("/").status_code == 200  # still logged in


def test_logout_ends_the_session_even_for_a_copied_cookie() -> None:
    rig = make_rig()
    client = logged_in(rig)
    copy = Browser(rig.app, cookies=dict(client.cookies))
    assert copy.get("/").status_code == 200
    answer = client.post("/logout", data={"csrf_token": token(client, "/")})
    assert answer.status_code == 303 and answer.headers["location"] == "/login"
    assert copy.get("/").headers["location"] == "/login"


def test_a_session_ends_after_its_max_age() -> None:
    rig = make_rig()
    client = logged_in(rig)
    rig.clock.advance(timedelta(hours=12, seconds=1).total_seconds())
    assert client.get("/").headers["location"] == "/login"


def test_repeated_failed_logins_are_throttled_for_a_while() -> None:
    rig = make_rig()
    client = Browser(rig.app)
    for _ in range(5):
        client.post("/login", data={"csrf_token": token(client), "password": "guess"})
    blocked = client.post("/login", data={"csrf_token": token(client), "password": PASSWORD})
    assert blocked.status_code == 429
    rig.clock.advance(timedelta(minutes=16).total_seconds())
    again = client.post("/login", data={"csrf_token": token(client), "password": PASSWORD})
    assert again.status_code == 303


def test_lock_asks_for_confirmation_then_goes_to_the_daemon() -> None:
    rig = make_rig()
    client = logged_in(rig)
    today = client.get("/")
    assert 'id="lock"' in today.text
    confirm = client.get("/desk/confirm?action=lock")
    assert confirm.status_code == 200 and "Lock the kill switch" in confirm.text
    csrf = TOKEN.search(confirm.text).group(1)  # type: ignore[union-attr]
    unconfirmed = client.post("/desk/act", data={"csrf_token": csrf, "action": "lock"})
    assert unconfirmed.status_code == 400 and actions(rig) == []
    done = client.post("/desk/act", data={"csrf_token": csrf, "action": "lock",
                                          "confirm": "yes", "reason": "news"})
    assert done.status_code == 303
    assert ("guard.lock", {"reason": "news"}) in rig.control.calls
    page = client.get("/").text
    assert "kill switch LOCKED by the daemon" in page and 'id="unlock"' in page


def test_flatten_and_pause_go_to_the_daemon_with_their_ticker() -> None:
    rig = make_rig()
    client = logged_in(rig)
    csrf = token(client, "/")
    for action in ("flatten", "pause"):
        client.post("/desk/act", data={"csrf_token": csrf, "action": action, "ticker": "QMT",
                                       "confirm": "yes"})
    assert ("flatten", {"tickers": ["QMT"], "reason": "from skimd web"}) in rig.control.calls
    assert ("pause", {"ticker": "QMT", "reason": "from skimd web"}) in rig.control.calls


def test_without_a_daemon_the_kill_switch_is_thrown_in_the_database_and_flatten_refused() -> None:
    rig = make_rig(running=False)
    client = logged_in(rig)
    csrf = token(client, "/")
    assert "read from database" in client.get("/").text
    client.post("/desk/act", data={"csrf_token": csrf, "action": "lock", "confirm": "yes"})
    page = client.get("/").text
    assert "by the database (no daemon answers)" in page and 'id="unlock"' in page
    assert rig.store.alert_kinds() == ["guard_tripped"]
    refused = client.post("/desk/act", data={"csrf_token": csrf, "action": "flatten",
                                             "confirm": "yes"})
    assert refused.status_code == 400 and "no skimd daemon answers" in refused.text


def test_read_only_shows_no_action_and_refuses_every_action() -> None:
    rig = make_rig(read_only=True)
    client = logged_in(rig)
    page = client.get("/").text
    assert "read-only" in page
    assert "/desk/confirm" not in page and 'id="lock"' not in page
    assert client.get("/desk/confirm?action=lock").status_code == 403
    csrf = token(client, "/")
    answer = client.post("/desk/act", data={"csrf_token": csrf, "action": "lock",
                                            "confirm": "yes"})
    assert answer.status_code == 403 and actions(rig) == []


def test_pages_never_show_the_session_secret_or_the_password() -> None:
    client = logged_in(make_rig())
    for path in ("/", "/journal", "/journal/1", "/stats", "/desk/confirm?action=lock"):
        text = client.get(path).text
        assert SESSION_SECRET not in text and PASSWORD not in text


def test_security_headers_forbid_framing_foreign_content_and_caching() -> None:
    answer = Browser(make_rig().app).get("/login")
    assert "frame-ancestors 'none'" in answer.headers["content-security-policy"]
    assert answer.headers["x-frame-options"] == "DENY"
    assert answer.headers["cache-control"] == "no-store"


def test_round_trips_filter_by_ticker_and_market_date() -> None:
    client = logged_in(make_rig())
    everything = client.get("/journal").text
    assert "VPL" in everything and "QMT" in everything
    by_ticker = client.get("/journal?ticker=qmt").text
    assert 'href="/journal/2"' in by_ticker and 'href="/journal/1"' not in by_ticker
    # opened 10:20 on the 24th in Sydney (23:20 UTC on the 23rd)
    by_day = client.get("/journal?from=2026-11-24&to=2026-11-24").text
    assert 'href="/journal/1"' in by_day and 'href="/journal/2"' not in by_day
    assert "2026-11-24 10:20:00" in by_day
    assert client.get("/journal?from=2026-11-25&to=2026-11-24").status_code == 400
    assert client.get("/journal?from=yesterday").status_code == 400


def test_a_round_trip_page_shows_its_reports_chart() -> None:
    client = logged_in(make_rig())
    page = client.get("/journal/1")
    assert page.status_code == 200 and 'src="/journal/1/chart/3.png"' in page.text
    assert 'id="review"' in page.text
    chart = client.get("/journal/1/chart/3.png")
    assert chart.content == CHART and chart.headers["content-type"] == "image/png"
    assert client.get("/journal/2/chart/3.png").status_code == 404  # not that trip's chart
    assert "No chart yet" in client.get("/journal/2").text
    assert client.get("/journal/99").status_code == 404


def test_the_stats_page_shows_the_totals_and_the_equity_curve() -> None:
    client = logged_in(make_rig())
    page = client.get("/stats?from=2026-11-24&to=2026-11-24").text
    assert "net pnl" in page and "-2" in page and 'id="equity"' in page
    png = client.get("/stats/equity.png?from=2026-11-24&to=2026-11-24")
    assert png.content == EQUITY
    assert client.get("/stats/equity.png?from=2026-12-01").status_code == 404
    assert 'id="equity"' not in client.get("/stats?from=2026-12-01").text


def test_today_shows_the_recent_alerts_escaped() -> None:
    page = logged_in(make_rig()).get("/").text
    assert "order_filled" in page and "BUY 5555 VPL filled @ 2.85 &lt;b&gt;" in page
    assert "<b>" not in page


def test_today_draws_each_candidates_opening_range_from_the_daemons_tape() -> None:
    rig = make_rig()
    client = logged_in(rig)
    today = client.get("/").text
    assert 'src="/today/chart/VPL.png"' in today and 'src="/today/chart/ONE.png"' in today
    chart = client.get("/today/chart/vpl.png")
    assert chart.status_code == 200 and chart.content == RANGE_PNG
    assert chart.headers["content-type"] == "image/png"
    assert rig.charts.drawn == [("VPL", 2, 1, Decimal("1.05"), Decimal("1.20"), Decimal("1.10"))]
    assert ("tape", {"ticker": "VPL"}) in rig.control.calls
    for path in ("/today/chart/ONE.png",  # one price seen: nothing to draw
                 "/today/chart/QMT.png",  # not a candidate today
                 "/today/chart/%3Cb%3E.png"):  # not a ticker: the daemon is not asked
        assert client.get(path).status_code == 404
    assert ("tape", {"ticker": "QMT"}) not in rig.control.calls
    assert len(rig.charts.drawn) == 1


def test_without_a_daemon_today_has_no_candidate_chart() -> None:
    client = logged_in(make_rig(running=False))
    assert "/today/chart/" not in client.get("/").text
    assert client.get("/today/chart/VPL.png").status_code == 404


def test_the_journal_pages_through_the_round_trips() -> None:
    client = logged_in(make_rig(page_size=1))
    first = client.get("/journal").text
    assert 'href="/journal/2"' in first and 'href="/journal/1"' not in first
    assert "page 1 of 2" in first and 'id="older"' in first and 'id="newer"' not in first
    second = client.get("/journal?page=2").text
    assert 'href="/journal/1"' in second and 'id="newer"' in second
    assert client.get("/journal?page=x").status_code == 400
    assert client.get("/journal?page=0").status_code == 400


def test_the_stats_page_groups_as_journal_stats_does() -> None:
    client = logged_in(make_rig())
    page = client.get("/stats?by=ticker").text
    assert 'id="groups"' in page and "<td>VPL</td>" in page
    assert 'id="groups"' not in client.get("/stats").text
    assert client.get("/stats?by=moon").status_code == 400


def test_the_pages_follow_the_traders_preferences() -> None:
    client = logged_in(make_rig(preferences={"stats.group_by": "ticker", "web.page_size": 1,
                                             "web.recent_alerts": 0}))
    grouped = client.get("/stats").text
    assert 'id="groups"' in grouped and '<option value="ticker" selected>' in grouped
    assert 'id="groups"' not in client.get("/stats?by=").text  # "(no grouping)" chosen
    assert 'id="groups"' not in client.get("/stats?by=none").text
    assert "page 1 of 2" in client.get("/journal").text
    assert "order_filled" in client.get("/").text  # 0 alerts is below the minimum: ignored


# -- the review form -------------------------------------------------------------------------

REVIEW = {"setup": "4", "execution": "2", "followed_plan": "no", "emotion": "Greedy",
          "lessons": "  waited for the range  ", "tags": "gap, Late entry"}


def test_a_review_from_the_form_is_stored_and_shown() -> None:
    rig = make_rig()
    client = logged_in(rig)
    csrf = token(client, "/journal/1")
    answer = client.post("/journal/1/review", data={"csrf_token": csrf, **REVIEW})
    assert answer.status_code == 303 and answer.headers["location"] == "/journal/1"
    assert rig.reviews.reviews[1] == Review(4, 2, False, "greedy", "waited for the range",
                                            ("gap", "late entry"))
    page = client.get("/journal/1").text
    assert "Review of round trip 1 saved." in page
    assert '<option value="4" selected>' in page and 'value="gap, late entry"' in page
    assert "waited for the range</textarea>" in page


def test_blank_boxes_keep_the_stored_review_and_emptied_tags_clear_it() -> None:
    rig = make_rig()
    client = logged_in(rig)
    client.post("/journal/1/review", data={"csrf_token": token(client, "/journal/1"), **REVIEW})
    blank = {name: "" for name in REVIEW}
    answer = client.post("/journal/1/review",
                         data={"csrf_token": token(client, "/journal/1"), **blank,
                               "setup": "5"})
    assert answer.status_code == 303
    assert rig.reviews.reviews[1] == Review(5, 2, False, "greedy", "waited for the range", ())


@pytest.mark.parametrize(("box", "value", "named"), [
    ("setup", "7", "Setup: must be 1-5"),
    ("execution", "x", "Execution: must be 1-5"),
    ("followed_plan", "maybe", "Followed the plan: must be yes or no"),
    ("emotion", "very calm", "Emotion: must be one word"),
    ("tags", "gap, " + "x" * 41, "Tags: a tag is 1-40 characters"),
])
def test_a_bad_box_is_named_on_the_page_and_nothing_is_written(
    box: str, value: str, named: str
) -> None:
    rig = make_rig()
    client = logged_in(rig)
    answer = client.post("/journal/1/review",
                         data={"csrf_token": token(client, "/journal/1"), **REVIEW, box: value})
    assert answer.status_code == 400
    assert 'id="review-error"' in answer.text and named in answer.text
    assert 'id="trip-title"' in answer.text  # the round trip's page again, boxes kept
    assert "waited for the range" in answer.text
    assert rig.reviews.reviews == {} and rig.reviews.writes == 0


def test_an_empty_review_and_an_unknown_round_trip_write_nothing() -> None:
    rig = make_rig()
    client = logged_in(rig)
    blank = {name: "" for name in REVIEW}
    empty = client.post("/journal/1/review",
                        data={"csrf_token": token(client, "/journal/1"), **blank})
    assert empty.status_code == 400 and "nothing to review" in empty.text
    unknown = client.post("/journal/99/review",
                          data={"csrf_token": token(client, "/"), **REVIEW})
    assert unknown.status_code == 404
    assert rig.reviews.reviews == {} and rig.reviews.writes == 0


def test_a_review_needs_the_csrf_token_and_a_login() -> None:
    rig = make_rig()
    client = logged_in(rig)
    for sent in ({}, {"csrf_token": "forged"}):
        assert client.post("/journal/1/review", data={**sent, **REVIEW}).status_code == 403
    stranger = Browser(rig.app)
    assert stranger.post("/journal/1/review", data=REVIEW).headers["location"] == "/login"
    assert rig.reviews.reviews == {}


def test_read_only_hides_the_review_form_and_refuses_the_post() -> None:
    rig = make_rig(read_only=True)
    rig.reviews.reviews[1] = Review(setup_quality=3, tags=("gap",))
    client = logged_in(rig)
    page = client.get("/journal/1").text
    assert 'id="review-form"' not in page and "/journal/1/review" not in page
    assert 'id="stored-review"' in page and "gap" in page  # the stored review still shows
    answer = client.post("/journal/1/review",
                         data={"csrf_token": token(client, "/journal/1"), **REVIEW})
    assert answer.status_code == 403 and "read-only" in answer.text
    assert rig.reviews.reviews == {1: Review(setup_quality=3, tags=("gap",))}
    assert rig.reviews.writes == 0
