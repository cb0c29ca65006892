"""Cross-live trends: per-live figures over time, touchpoint conversion across lives, the page
and its CSV (hand numbers on a small stream)."""
import csv
import io
from datetime import timedelta
from fractions import Fraction

from liveloop.analytics.trends import touchpoint_conversion, trend_lives, trend_rows
from liveloop.events.ingest import ingest
from liveloop.lives.models import Account
from liveloop.actions.lives import create_live, end_live, start_live
from tests.actors import EVENING, event

M = timedelta(minutes=1)
DAY = timedelta(days=1)


def _run(brand, live, events, at):
    start_live(live, at=at)
    assert ingest(brand.org, events, source="test").rejected == []
    end_live(live, at=at + 60 * M)


def make_lives(brand):
    """First: 4 viewers (2 community, 2 public), 1 community buyer (6000).
    Second, a day later on another account: 2 community viewers both buying (3000 + 1000),
    1 public viewer, a 1000 refund. A third live never went on air."""
    first = brand.live(title="第一场", announced_at=EVENING, promoters=["A"])
    second_account = Account.objects.create(org=brand.org, name="山茶集 门店号")
    second = create_live(brand.org, account=second_account, title="第二场", announced_at=EVENING + DAY)
    brand.live(title="还没开播", announced_at=EVENING + 2 * DAY)
    F, S = first.public_id, second.public_id
    _run(brand, first, [
        event("a1", "room_enter", F, "V1", promoter="A", touchpoint="community", at=EVENING + M),
        event("a2", "room_enter", F, "V2", touchpoint="community", at=EVENING + M),
        event("a3", "room_enter", F, "V3", touchpoint="public", at=EVENING + M),
        event("a4", "room_enter", F, "V4", touchpoint="public", at=EVENING + M),
        event("a5", "order_paid", F, "V1", order="X1", amount=6000, at=EVENING + 5 * M),
    ], EVENING)
    _run(brand, second, [
        event("b1", "room_enter", S, "W1", touchpoint="community", at=EVENING + DAY + M),
        event("b2", "room_enter", S, "W2", touchpoint="community", at=EVENING + DAY + M),
        event("b3", "room_enter", S, "W3", touchpoint="public", at=EVENING + DAY + M),
        event("b4", "order_paid", S, "W1", order="Y1", amount=3000, at=EVENING + DAY + 5 * M),
        event("b5", "order_paid", S, "W2", order="Y2", amount=1000, at=EVENING + DAY + 6 * M),
        event("b6", "order_refund", S, "W2", order="Y2", amount=1000, at=EVENING + DAY + 9 * M),
    ], EVENING + DAY)
    return first, second, second_account


def test_figures_per_live_over_time_and_touchpoint_conversion(brand):
    first, second, second_account = make_lives(brand)
    lives = trend_lives(brand.org)
    assert [live.title for live in lives] == ["第一场", "第二场"]   # oldest first; never on air left out
    rows = trend_rows(brand.org, lives)
    assert [(r["entered"], r["buyers"], r["gmv"], r["net"]) for r in rows] == [(4, 1, 6000, 6000), (3, 2, 4000, 3000)]
    assert [r["conversion"] for r in rows] == [Fraction(1, 4), Fraction(2, 3)]
    assert [r["uv_value"] for r in rows] == [Fraction(1500), Fraction(4000, 3)]
    touchpoints, rates = touchpoint_conversion(brand.org, lives)
    assert touchpoints == ["community", "public"]   # 4 community viewers in all, 3 public
    assert rates[first.pk] == {"community": Fraction(1, 2), "public": Fraction(0)}
    assert rates[second.pk] == {"community": Fraction(1), "public": Fraction(0)}

    only = trend_lives(brand.org, account=second_account)
    assert [live.title for live in only] == ["第二场"]
    assert trend_lives(brand.org, since=EVENING + DAY - M) == [second]


def test_the_trends_page_and_its_csv(brand, owner, outsider):
    first, second, second_account = make_lives(brand)
    page = owner.get("/trends/", {"since": "2026-11-01", "until": "2026-11-30"})
    assert page.status_code == 200
    text = page.content.decode()
    assert "第一场" in text and "第二场" in text and "还没开播" not in text
    assert 'id="chart-touchpoints"' in text and "25.0%" in text and "66.7%" in text
    assert owner.get("/trends/", {"since": "2026-12-01", "until": "2026-12-31"}).content.decode().count("<tbody>") == 0

    response = owner.get("/trends/trends.csv", {"since": "2026-11-01", "until": "2026-11-30",
                                                "account": second_account.pk})
    assert response.status_code == 200
    rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert len(rows) == 1
    # For people: the page's headers and figures (yuan, the percent shown on the page).
    assert (rows[0]["直播编号"], rows[0]["成交额"], rows[0]["净额"], rows[0]["转化率"]) == \
        (second.public_id, "40.00", "30.00", "66.7%")
    assert rows[0]["转化率：社群"] == "100.0%" and rows[0]["转化率：公域流量"] == "0.0%"


def test_bad_or_foreign_choices_get_field_errors(brand, owner, outsider):
    make_lives(brand)
    foreign = outsider.account.pk
    response = owner.get("/trends/", {"account": foreign, "since": "2026-11-30", "until": "2026-11-01"})
    assert response.status_code == 400
    form = response.context["form"]
    assert set(form.errors) == {"account", "until"}
    response = owner.get("/trends/", {"since": "not a date"})
    assert response.status_code == 400 and "since" in response.context["form"].errors
