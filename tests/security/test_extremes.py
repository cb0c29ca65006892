"""Issue 14, "no input breaks a page": dates and sizes at and beyond the accepted edges.

Beyond the edges: refused with a reason (422 naming the field, a form error, a per-event
rejection, a bad row), never a 500. At the edges: stored through the real API, then every page
of the organisation answers (tests/security/routes.py's route table, as the owner).
"""
from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from liveloop.importers.events import parse_at
from liveloop.importers.run import import_file
from liveloop.lives.models import Live
from liveloop.actions.lives import create_live
from liveloop.orgs.models import Member
from liveloop.rules.dates import ANNOUNCE_AHEAD, EARLIEST
from liveloop.rules.events import MAX_AMOUNT, MAX_CODE
from tests.actors import EVENING, event
from tests.security.routes import CLASSES, KWARGS, OBJECT, ORG, ROUTES, route_url
from tests.security.world import mine, promoter_client, theirs  # noqa: F401

API = "/api/v1"
OUT_OF_RANGE = ["9999-12-31T23:59:59+00:00", "9999-12-31T23:59:59-14:00", "0001-01-01T00:00:00+14:00",
                "0001-01-01T00:00:00-14:00", "1999-12-31T23:59:59+00:00"]
# What a query string may say to a page that reads dates from it.
HOSTILE_DATES = ["?date=9999-12-31", "?date=0001-01-01&mode=day", "?date=9999-12-31&mode=day",
                 "?month=9999-12", "?month=0001-01", "?month=2099-12", "?month=1999-12", "?week=9999-W52",
                 "?since=0001-01-01&until=9999-12-31", "?since=9999-12-31", "?until=0001-01-01",
                 "?day=9999-12-31", "?date=2099-12-31&mode=week", "?date=99999-01-01", "?month=-1--1"]


def create(tenant, at, **extra):
    return tenant.api.post(f"{API}/lives", {"title": "边界直播", "account": tenant.account.pk, "announced_at": at,
                                            **extra}, content_type="application/json")


# Beyond the edges -----------------------------------------------------------------------------

@pytest.mark.parametrize("at", OUT_OF_RANGE + ["2100-01-01T00:00:00+00:00"])
def test_the_api_refuses_an_announced_time_out_of_range_by_field(brand, at):
    answer = create(brand, at)
    assert answer.status_code == 422, answer.content
    detail, = answer.json()["detail"]
    assert detail["loc"][-1] == "announced_at" and "between 2000-01-01 and 2099-12-31" in detail["msg"]
    assert not Live.objects.filter(org=brand.org).exists()  # nothing half-written


def test_the_api_refuses_an_announced_time_more_than_two_years_ahead(brand):
    now = datetime.now(timezone.utc)
    answer = create(brand, (now + ANNOUNCE_AHEAD + timedelta(minutes=5)).isoformat())
    assert answer.status_code == 422 and "at most 2 years ahead" in answer.json()["detail"][0]["msg"]
    # A live of next year, with the far offset, is fine.
    assert create(brand, (now + timedelta(days=365)).astimezone(timezone(timedelta(hours=-14))).isoformat()
                  ).status_code == 201


@pytest.mark.parametrize("at", ["9999-12-31T23:59", "0001-01-01T00:00", "1999-12-31T23:59"])
def test_the_live_forms_refuse_an_announced_time_out_of_range(brand, owner, at):
    new = owner.post("/lives/new/", {"account": brand.account.pk, "title": "边界", "announced_at": at,
                                     "cap": 10, "mode": "first_touch", "binding_days": 30})
    assert new.status_code == 400
    page = new.content.decode()
    assert "请选择 2000-01-01 至今后 2 年之间的时间" in page
    live = brand.live()
    edit = owner.post(f"/lives/{live.public_id}/edit/", {"title": "改", "announced_at": at})
    assert edit.status_code == 400 and "请选择 2000-01-01 至今后 2 年之间的时间" in edit.content.decode()
    live.refresh_from_db()
    assert live.title != "改" and live.announced_at == EVENING
    assert Live.objects.filter(org=brand.org).count() == 1


def test_a_batch_rejects_an_out_of_range_time_per_event_and_keeps_the_rest(brand):
    live = brand.live()
    answer = brand.send([event(f"x{i}", "room_enter", live.public_id, f"V{i}") for i in range(2)]
                        + [{**event(f"bad{i}", "room_enter", live.public_id, "V9"), "at": at}
                           for i, at in enumerate(OUT_OF_RANGE)])
    assert answer.status_code == 200, answer.content
    body = answer.json()
    assert body["accepted"] == 2
    assert [r["error"] for r in body["rejected"]] == (
        ["at: must be between 2000-01-01 and 2099-12-31 (UTC)"] * len(OUT_OF_RANGE))


def test_an_absurd_date_in_an_import_is_a_bad_row(brand, tmp_path):
    live = brand.live()
    with pytest.raises(ValueError, match="between 2000-01-01 and 2099-12-31"):
        parse_at("9999-12-31 23:59:59", ZoneInfo("Asia/Shanghai"))
    with pytest.raises(ValueError, match="between 2000-01-01 and 2099-12-31"):
        parse_at(datetime(1, 1, 1), ZoneInfo("Asia/Shanghai"))  # an Excel date cell
    path = Path(tmp_path) / "orders.csv"
    path.write_text("订单号,支付时间,实付金额,买家openid\n"
                    "A1,2026-11-20 20:01:02,12.00,V1\n"
                    "A2,9999-12-31 23:59:59,12.00,V2\n"
                    "A3,0001-01-01 00:00:00,12.00,V3\n"
                    "A4,2026-11-20T20:01:02-14:00,12.00,V4\n", encoding="utf-8")
    report = import_file(brand.org, path, "orders", live=live.public_id, dry_run=True,
                         now=EVENING + timedelta(days=2))
    assert (report.accepted, report.rejected) == (2, 2)
    assert [(p.row, p.column) for p in report.problems] == [(3, "支付时间"), (4, "支付时间")]
    refund = Path(tmp_path) / "refunds.csv"  # the refund's id once took the time's timestamp first
    refund.write_text("订单号,退款金额,退款时间,买家openid\nA1,1.00,9999-12-31 23:59:59,V1\n", encoding="utf-8")
    report = import_file(brand.org, refund, "refunds", live=live.public_id, dry_run=True)
    assert report.rejected == 1 and report.problems[0].column == "退款时间"


@pytest.mark.parametrize("query", HOSTILE_DATES)
def test_date_filters_out_of_range_fall_back_or_say_why(brand, owner, query):
    brand.live()
    for page in ("/matrix/", "/trends/", "/calendar/", "/matrix/matrix.csv", "/trends/trends.csv"):
        answer = owner.get(page + query)
        assert answer.status_code in (200, 400), (page, query, answer.status_code)


def test_trends_say_why_a_far_date_is_refused(brand, owner):
    page = owner.get("/trends/?since=0001-01-01&until=9999-12-31")
    assert page.status_code == 400  # the page's answer to any unreadable field, shown beside it
    assert "请选择 2000-01-01 至 2099-12-31 之间的日期" in page.content.decode()


@pytest.mark.parametrize("since, until", [("0001-01-01", "0001-01-02"), ("9999-12-30", "9999-12-31"),
                                          ("2099-12-31", "2100-01-01")])
def test_a_back_fill_out_of_range_is_a_form_error_before_any_call(brand, owner, settings, since, until):
    from liveloop.integrations.models import Shop

    settings.LIVELOOP_WECHAT_API_BASE = "http://127.0.0.1:9"  # a call would fail differently
    shop = Shop.objects.create(org=brand.org, name="小店", appid="wxedge00000001", token="Tok3n",
                               encoding_aes_key="A" * 43, app_secret="s" * 20)
    answer = owner.post(f"/settings/shops/{shop.pk}/backfill/", {"since": since, "until": until})
    assert answer.status_code == 400
    assert "请选择 2000-01-01 至 2099-12-31 之间的日期" in answer.content.decode()


# At the edges: stored, then every page ---------------------------------------------------------

LONG_TITLE = "长" * 120
LONG_NAME = "名" * 80
LONG_TEAM = "队" * 80
LONG_CODE = "C" * MAX_CODE


def _store_extremes(tenant) -> list[str]:
    """Lives at the earliest and latest accepted announced times (±14:00), with the longest
    names, the largest amounts and events at the window's ends, all through the API."""
    now = datetime.now(timezone.utc)
    plus14, minus14 = timezone(timedelta(hours=14)), timezone(timedelta(hours=-14))
    # The API refuses a new live in the past (issue 19), so the earliest is made by the service
    # (as an import of an old live would be): the pages must still show it.
    earliest = create_live(tenant.org, account=tenant.account, title=LONG_TITLE,
                           announced_at=EARLIEST.astimezone(plus14), cap=1000, binding_days=365,
                           mode="last_touch")
    latest = create(tenant, (now + ANNOUNCE_AHEAD - timedelta(minutes=1)).astimezone(minus14).isoformat(),
                    title=LONG_TITLE)
    assert latest.status_code == 201, latest.content
    old, future = earliest.public_id, latest.json()["id"]
    for live in (old, future):
        enrolled = tenant.api.post(f"{API}/lives/{live}/promoters",
                                   {"name": LONG_NAME, "team": LONG_TEAM, "code": LONG_CODE,
                                    "phone": "+" + "9" * 19}, content_type="application/json")
        assert enrolled.status_code == 201, enrolled.content
    first = EARLIEST.astimezone(plus14)
    last = (now + timedelta(days=1) - timedelta(seconds=5)).astimezone(minus14)
    answer = tenant.send([
        {**event("edge1", "reservation", old, "V" * 128, promoter=LONG_CODE), "at": first.isoformat()},
        {**event("edge2", "room_enter", old, "V" * 128), "at": first.isoformat()},
        {**event("edge3", "order_paid", old, "V" * 128, order="9" * 64, amount=MAX_AMOUNT), "at": first.isoformat()},
        {**event("edge4", "order_paid", old, "W" * 128, order="8" * 64, amount=MAX_AMOUNT, promoter=LONG_CODE),
         "at": last.isoformat()},
        {**event("edge5", "order_refund", old, "V" * 128, order="9" * 64, amount=MAX_AMOUNT), "at": last.isoformat()},
        {**event("edge6", "online", old, "A" * 128, count=10**9), "at": last.isoformat()},
        {**event("edge7", "reservation", future, "V" * 128, promoter=LONG_CODE), "at": last.isoformat()},
    ])
    assert answer.status_code == 200 and answer.json()["accepted"] == 7, answer.content
    assert tenant.api.post(f"{API}/lives/{old}/start").status_code == 200
    assert tenant.api.post(f"{API}/lives/{old}/end").status_code == 200
    assert tenant.api.post(f"{API}/lives/{future}/cancel").status_code == 200
    return [old, future]


def test_the_extremes_accepted_open_every_page(mine):
    extreme_lives = _store_extremes(mine.tenant)
    owner = mine.members[Member.OWNER]
    opened = 0
    for route in ROUTES:
        kind = CLASSES.get(route.name)
        if kind == ORG:
            urls = [route_url(route, {})] + [route_url(route, {}) + query for query in HOSTILE_DATES]
        elif kind == OBJECT:
            values = {name: mine.objects[KWARGS[name]] for name in route.kwargs}
            urls = [route_url(route, values)]
            if route.kwargs == ("public_id",):
                urls += [route_url(route, {"public_id": live}) for live in extreme_lives]
        else:
            continue
        for url in urls:
            answer = owner.get(url)
            assert answer.status_code < 500, (route.name, url, answer.status_code)
            opened += 1
    for live in extreme_lives:  # the API's reads of those lives answer too
        for path in ("", "/summary", "/promoters", "/promoters?format=csv", "/programme", "/settlement"):
            assert mine.tenant.api.get(f"{API}/lives/{live}{path}").status_code == 200, path
    assert mine.tenant.api.get(f"{API}/lives").status_code == 200
    assert promoter_client(mine).get("/me/").status_code < 500
    # The sweep reached the pages it should: a broken walk would open nothing and pass.
    assert opened > 100
    lives_page = owner.get("/").content.decode()
    assert LONG_TITLE in lives_page
    print(f"\n[security] extremes: {opened} page requests as the owner, none a 500")


@pytest.mark.parametrize("since, until", [("9999-12-30", "9999-12-31"), ("0001-01-01", "0001-01-02")])
def test_the_back_fill_command_refuses_days_out_of_range(brand, since, until):
    from click.testing import CliRunner

    from liveloop.cli import main

    result = CliRunner().invoke(main, ["wechat-backfill", "--org", brand.org.slug, "--shop", "wxnone",
                                       "--since", since, "--until", until])
    assert result.exit_code == 2, result.output  # a usage error, not a traceback
    assert "between 2000-01-01 and 2099-12-31" in result.output and result.exception.__class__ is SystemExit


def test_month_and_day_filters_outside_the_window_fall_back():
    from datetime import date

    from liveloop.web.queries import parse_month

    today = date(2026, 11, 20)
    assert parse_month("2099-12", today) == date(2099, 12, 1)  # the last month offered
    assert parse_month("2000-01", today) == date(2000, 1, 1)
    for raw in ("2100-01", "1999-12", "9999-12", "0001-01", "2026-13", "-1--1", "99999999999-1"):
        assert parse_month(raw, today) == date(2026, 11, 1), raw


def test_the_service_itself_refuses_a_time_no_page_could_show(brand):
    from liveloop.actions.lives import create_live
    from liveloop.rules.dates import DateRangeError

    with pytest.raises(DateRangeError):
        create_live(brand.org, account=brand.account, title="x",
                    announced_at=datetime(9999, 12, 31, 23, 59, tzinfo=timezone(timedelta(hours=-14))))
    assert not Live.objects.filter(org=brand.org).exists()
