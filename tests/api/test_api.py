"""The HTTP API other than POST /events: organisation objects, lives, programmes, promoters,
figures and the OpenAPI document. Everything goes through the test client with the brand's key."""
import csv
import io
from datetime import datetime, timedelta, timezone

import pytest

from liveloop.lives.models import Live
from liveloop.promoters.models import Enrolment, Promoter
from tests.actors import EVENING, event

API = "/api/v1"


def post(tenant, path, body=None):
    if body is None:
        return tenant.api.post(API + path)
    return tenant.api.post(API + path, body, content_type="application/json")


def patch(tenant, path, body):
    return tenant.api.patch(API + path, body, content_type="application/json")


def get(tenant, path, **query):
    return tenant.api.get(API + path, query)


def error_fields(response) -> set[str]:
    """The fields a 422 names: Ninja's per-field list, or our own 'field: message' detail."""
    assert response.status_code == 422, response.content
    detail = response.json()["detail"]
    if isinstance(detail, list):
        return {str(error["loc"][-1]) for error in detail}
    return {detail.split(":", 1)[0]}


def new_live_body(brand, **overrides):
    body = {"title": "年货节直播", "account": brand.account.pk,
            "announced_at": "2027-12-01T20:00:00+08:00"}
    return {**body, **overrides}


# --- accounts and teams -----------------------------------------------------------------------

def test_accounts_list_create_and_duplicate(brand, outsider):
    created = post(brand, "/accounts", {"name": "山茶集 二号", "channels_id": "sph2x"})
    assert created.status_code == 201
    assert created.json()["name"] == "山茶集 二号"
    assert created.json()["channels_id"] == "sph2x"

    listed = get(brand, "/accounts").json()
    assert {a["name"] for a in listed} == {"山茶集 官方号", "山茶集 二号"}
    assert created.json()["id"] in {a["id"] for a in listed}

    again = post(brand, "/accounts", {"name": "山茶集 二号"})
    assert again.status_code == 409
    assert again.json()["detail"].startswith("name")
    assert len(get(brand, "/accounts").json()) == 2
    # The same name is free in another organisation.
    assert post(outsider, "/accounts", {"name": "山茶集 二号"}).status_code == 201


def test_teams_list_create_and_duplicate(brand):
    assert get(brand, "/teams").json() == []
    created = post(brand, "/teams", {"name": "杭州西湖店", "region": "浙江"})
    assert created.status_code == 201
    assert created.json()["region"] == "浙江"
    assert post(brand, "/teams", {"name": "上海静安店"}).status_code == 201
    assert [t["name"] for t in get(brand, "/teams").json()] == sorted(["杭州西湖店", "上海静安店"])

    again = post(brand, "/teams", {"name": "杭州西湖店"})
    assert again.status_code == 409
    assert len(get(brand, "/teams").json()) == 2


def test_account_name_is_required(brand):
    assert error_fields(post(brand, "/accounts", {"name": ""})) == {"name"}


# --- lives ------------------------------------------------------------------------------------

def test_create_live_with_programme_defaults(brand):
    answer = post(brand, "/lives", new_live_body(brand))
    assert answer.status_code == 201
    body = answer.json()
    live = Live.objects.for_org(brand.org).get()
    assert body["id"] == live.public_id and body["id"].startswith("L")
    assert body["title"] == "年货节直播"
    assert body["account"] == brand.account.pk
    assert body["account_name"] == "山茶集 官方号"
    assert body["state"] == "scheduled"
    assert body["started_at"] is None and body["cancelled_at"] is None
    assert datetime.fromisoformat(body["announced_at"]) == datetime(2027, 12, 1, 12, tzinfo=timezone.utc)
    assert body["programme"] == {"cap": 1000, "mode": "first_touch", "binding_days": 30,
                                 "is_open": True, "promoters": 0}


def test_create_live_with_own_programme(brand):
    programme = {"cap": 50, "mode": "last_touch", "binding_days": 7, "is_open": False}
    answer = post(brand, "/lives", new_live_body(brand, programme=programme))
    assert answer.status_code == 201
    assert answer.json()["programme"] == {**programme, "promoters": 0}


@pytest.mark.parametrize("change, field", [
    ({"title": ""}, "title"),
    ({"title": "长" * 121}, "title"),
    ({"announced_at": "2027-12-01T20:00:00"}, "announced_at"),
    ({"account": 987654}, "account"),
    ({"programme": {"cap": 0}}, "cap"),
    ({"programme": {"cap": 1001}}, "cap"),
    ({"programme": {"mode": "bogus"}}, "mode"),
    ({"programme": {"binding_days": 0}}, "binding_days"),
])
def test_create_live_rejects_per_field(brand, change, field):
    assert error_fields(post(brand, "/lives", new_live_body(brand, **change))) == {field}
    assert not Live.objects.for_org(brand.org).exists()


def test_create_live_refuses_an_account_of_another_organisation(brand, outsider):
    answer = post(brand, "/lives", new_live_body(brand, account=outsider.account.pk))
    assert error_fields(answer) == {"account"}
    assert not Live.objects.exists()


def test_a_title_of_120_characters_is_fine(brand):
    assert post(brand, "/lives", new_live_body(brand, title="长" * 120)).status_code == 201


def test_list_lives_newest_first_and_by_state(brand, outsider):
    old = brand.live(title="旧", announced_at=EVENING - timedelta(days=2))
    new = brand.live(title="新", announced_at=EVENING + timedelta(days=2))
    mid = brand.live(title="中", announced_at=EVENING)
    outsider.live(title="别家")
    post(brand, f"/lives/{mid.public_id}/start")

    assert [x["id"] for x in get(brand, "/lives").json()] == [new.public_id, mid.public_id, old.public_id]
    assert [x["id"] for x in get(brand, "/lives", state="live").json()] == [mid.public_id]
    assert [x["id"] for x in get(brand, "/lives", state="scheduled").json()] == [new.public_id, old.public_id]
    assert get(brand, "/lives", state="cancelled").json() == []
    assert [x["id"] for x in get(brand, "/lives", limit=1, offset=1).json()] == [mid.public_id]
    assert error_fields(get(brand, "/lives", state="paused")) == {"state"}


def test_read_live(brand):
    live = brand.live(promoters=["A", "B"])
    body = get(brand, f"/lives/{live.public_id}").json()
    assert body["id"] == live.public_id
    assert body["title"] == "双十二预热直播"
    assert body["programme"]["promoters"] == 2


def test_cancel_resets_reservations(brand):
    live = brand.live(promoters=["A"])
    L = live.public_id
    brand.send([event("r1", "reservation", L, "V1", promoter="A"),
                event("r2", "reservation", L, "V2")])
    assert get(brand, f"/lives/{L}/summary").json()["reservations"] == 2

    cancelled = post(brand, f"/lives/{L}/cancel")
    assert cancelled.status_code == 200
    assert cancelled.json()["state"] == "cancelled"
    assert cancelled.json()["cancelled_at"] is not None
    assert get(brand, f"/lives/{L}/summary").json()["reservations"] == 0
    assert all(r["reservations"] == 0 for r in get(brand, f"/lives/{L}/promoters").json())
    assert get(brand, f"/lives/{L}").json()["state"] == "cancelled"

    assert post(brand, f"/lives/{L}/cancel").status_code == 409
    assert post(brand, f"/lives/{L}/start").status_code == 409
    # Events for a cancelled live are refused, so the figures stay at zero.
    late = brand.send([event("r3", "reservation", L, "V3")]).json()
    assert late["accepted"] == 0
    assert get(brand, f"/lives/{L}/summary").json()["reservations"] == 0


def test_cancel_after_start_is_refused(brand):
    L = brand.live().public_id
    assert post(brand, f"/lives/{L}/start").status_code == 200
    refused = post(brand, f"/lives/{L}/cancel")
    assert refused.status_code == 409
    assert refused.json()["detail"]
    assert get(brand, f"/lives/{L}").json()["state"] == "live"


def test_start_and_end(brand):
    L = brand.live(announced_at=datetime.now(timezone.utc)).public_id
    assert post(brand, f"/lives/{L}/end").status_code == 409
    assert get(brand, f"/lives/{L}").json()["state"] == "scheduled"

    started = post(brand, f"/lives/{L}/start")
    assert started.status_code == 200
    assert started.json()["state"] == "live" and started.json()["started_at"] is not None
    assert post(brand, f"/lives/{L}/start").status_code == 409

    ended = post(brand, f"/lives/{L}/end")
    assert ended.status_code == 200
    assert ended.json()["state"] == "ended" and ended.json()["ended_at"] is not None
    assert post(brand, f"/lives/{L}/end").status_code == 409
    assert post(brand, f"/lives/{L}/start").status_code == 409
    assert get(brand, f"/lives/{L}/summary").json()["reservations_lapsed"] is False


def test_starting_over_an_hour_late_lets_reservations_lapse(brand):
    late = brand.live(announced_at=datetime.now(timezone.utc) - timedelta(hours=1, minutes=5))
    on_time = brand.live(announced_at=datetime.now(timezone.utc) - timedelta(minutes=50))
    for live in (late, on_time):
        assert get(brand, f"/lives/{live.public_id}/summary").json()["reservations_lapsed"] is False
        assert post(brand, f"/lives/{live.public_id}/start").status_code == 200
    assert get(brand, f"/lives/{late.public_id}/summary").json()["reservations_lapsed"] is True
    assert get(brand, f"/lives/{on_time.public_id}/summary").json()["reservations_lapsed"] is False


# --- programme --------------------------------------------------------------------------------

def test_read_and_patch_programme(brand):
    L = brand.live(promoters=["A"]).public_id
    assert get(brand, f"/lives/{L}/programme").json() == {
        "cap": 1000, "mode": "first_touch", "binding_days": 30, "is_open": True, "promoters": 1}

    changed = patch(brand, f"/lives/{L}/programme", {"cap": 20, "is_open": False})
    assert changed.status_code == 200
    assert changed.json() == {"cap": 20, "mode": "first_touch", "binding_days": 30,
                              "is_open": False, "promoters": 1}
    assert get(brand, f"/lives/{L}/programme").json() == changed.json()


def test_rules_change_only_before_events(brand):
    L = brand.live(promoters=["A"]).public_id
    before = patch(brand, f"/lives/{L}/programme", {"mode": "last_touch", "binding_days": 7})
    assert before.status_code == 200
    assert (before.json()["mode"], before.json()["binding_days"]) == ("last_touch", 7)

    assert brand.send([event("e1", "reservation", L, "V1", promoter="A")]).json()["accepted"] == 1
    for change in ({"mode": "first_touch"}, {"binding_days": 30}):
        refused = patch(brand, f"/lives/{L}/programme", change)
        assert refused.status_code == 409
        assert refused.json()["detail"].startswith(next(iter(change)))
    # Restating the current rules changes no credit; cap and is_open stay editable.
    same = patch(brand, f"/lives/{L}/programme", {"mode": "last_touch", "cap": 10, "is_open": False})
    assert same.status_code == 200
    assert get(brand, f"/lives/{L}/programme").json() == {
        "cap": 10, "mode": "last_touch", "binding_days": 7, "is_open": False, "promoters": 1}


def test_cap_cannot_drop_below_enrolled(brand):
    L = brand.live(promoters=["A", "B", "C"]).public_id
    assert error_fields(patch(brand, f"/lives/{L}/programme", {"cap": 2})) == {"cap"}
    assert get(brand, f"/lives/{L}/programme").json()["cap"] == 1000
    assert patch(brand, f"/lives/{L}/programme", {"cap": 3}).json()["cap"] == 3


@pytest.mark.parametrize("change, field", [
    ({"cap": 0}, "cap"), ({"cap": 1001}, "cap"), ({"mode": "bogus"}, "mode"),
    ({"binding_days": 0}, "binding_days"), ({"binding_days": 366}, "binding_days"),
])
def test_programme_patch_validation(brand, change, field):
    L = brand.live().public_id
    assert error_fields(patch(brand, f"/lives/{L}/programme", change)) == {field}


# --- enrolling promoters ----------------------------------------------------------------------

def test_enrol_one_and_many(brand):
    L = brand.live().public_id
    one = post(brand, f"/lives/{L}/promoters", {"name": "王小明", "phone": "13812345678",
                                                 "team": "杭州西湖店"})
    assert one.status_code == 201
    [person] = one.json()
    assert person["name"] == "王小明"
    assert person["phone"] == "138****5678"
    assert person["team"] == "杭州西湖店"
    assert person["code"].startswith("P")
    assert Promoter.objects.for_org(brand.org).get(code=person["code"]).phone == "13812345678"

    many = post(brand, f"/lives/{L}/promoters", [
        {"name": "李娜", "phone": "13900001111"},
        {"name": "张伟", "code": "ZW01", "team": "上海静安店"},
    ])
    assert many.status_code == 201
    assert [(p["name"], p["phone"]) for p in many.json()] == [("李娜", "139****1111"), ("张伟", "")]
    assert "ZW01" in {p["code"] for p in many.json()}
    assert get(brand, f"/lives/{L}/programme").json()["promoters"] == 3
    assert {t["name"] for t in get(brand, "/teams").json()} == {"杭州西湖店", "上海静安店"}


def test_the_same_phone_reuses_the_promoter(brand):
    first, second = brand.live().public_id, brand.live().public_id
    a = post(brand, f"/lives/{first}/promoters", {"name": "王小明", "phone": "13812345678"}).json()
    b = post(brand, f"/lives/{second}/promoters", {"name": "小明", "phone": "13812345678"}).json()
    again = post(brand, f"/lives/{first}/promoters", {"name": "王小明", "phone": "13812345678"})
    assert again.status_code == 201
    assert a[0]["code"] == b[0]["code"] == again.json()[0]["code"]
    assert Promoter.objects.for_org(brand.org).count() == 1
    assert get(brand, f"/lives/{first}/programme").json()["promoters"] == 1
    assert get(brand, f"/lives/{second}/programme").json()["promoters"] == 1


def test_a_phone_typed_with_the_country_code_is_the_same_promoter(brand):
    """The API, the join form and an import store one form of a mainland number: "+86…" and
    "86…" are the promoter already known by the 11 digits, not a second one."""
    first, second, third = (brand.live().public_id for _ in range(3))
    a = post(brand, f"/lives/{first}/promoters", {"name": "王小明", "phone": "13812345678"}).json()
    b = post(brand, f"/lives/{second}/promoters", {"name": "王小明", "phone": "+8613812345678"}).json()
    c = post(brand, f"/lives/{third}/promoters", {"name": "王小明", "phone": "8613812345678"}).json()
    assert a[0]["code"] == b[0]["code"] == c[0]["code"]
    assert Promoter.objects.for_org(brand.org).get().phone == "13812345678"
    # A foreign number is kept as sent, and found again as sent.
    d = post(brand, f"/lives/{first}/promoters", {"name": "Anna", "phone": "+4915112345678"}).json()
    e = post(brand, f"/lives/{second}/promoters", {"name": "Anna", "phone": "+4915112345678"}).json()
    assert d[0]["code"] == e[0]["code"] != a[0]["code"]
    assert Promoter.objects.for_org(brand.org).count() == 2


def test_the_answer_follows_the_order_sent(brand):
    L = brand.live().public_id
    known = post(brand, f"/lives/{L}/promoters", {"name": "老推广员", "phone": "13700000000"}).json()[0]
    answer = post(brand, f"/lives/{L}/promoters", [
        {"name": "新人甲"}, {"name": "老推广员", "phone": "13700000000"}, {"name": "新人乙"}])
    assert answer.status_code == 201
    assert [p["name"] for p in answer.json()] == ["新人甲", "老推广员", "新人乙"]
    assert answer.json()[1]["code"] == known["code"]


def test_a_single_object_error_names_only_its_fields(brand):
    L = brand.live().public_id
    one = post(brand, f"/lives/{L}/promoters", {"name": "王小明", "phone": "12ab"})
    assert [e["loc"][-1] for e in one.json()["detail"]] == ["phone"]
    many = post(brand, f"/lives/{L}/promoters", [{"name": "甲"}, {"name": "乙", "phone": "12ab"}])
    assert [e["loc"][-2:] for e in many.json()["detail"]] == [[1, "phone"]]
    assert not Promoter.objects.exists()


def test_a_full_programme_enrols_nobody(brand):
    L = brand.live(cap=2).public_id
    refused = post(brand, f"/lives/{L}/promoters", [
        {"name": "甲", "phone": "13800000001"}, {"name": "乙", "phone": "13800000002"},
        {"name": "丙", "phone": "13800000003"}])
    assert refused.status_code == 409
    assert "2" in refused.json()["detail"]
    assert get(brand, f"/lives/{L}/programme").json()["promoters"] == 0
    assert not Promoter.objects.for_org(brand.org).exists()
    assert post(brand, f"/lives/{L}/promoters", [{"name": "甲"}, {"name": "乙"}]).status_code == 201
    assert post(brand, f"/lives/{L}/promoters", {"name": "丙"}).status_code == 409
    assert Promoter.objects.for_org(brand.org).count() == 2


def test_a_closed_programme_enrols_nobody(brand):
    L = brand.live(is_open=False).public_id
    assert post(brand, f"/lives/{L}/promoters", {"name": "王小明"}).status_code == 409
    assert not Enrolment.objects.for_org(brand.org).exists()


@pytest.mark.parametrize("phone", ["12ab5678", "138-1234-5678", "1" * 21])
def test_an_invalid_phone_is_refused(brand, phone):
    L = brand.live().public_id
    assert error_fields(post(brand, f"/lives/{L}/promoters", {"name": "王小明", "phone": phone})) == {"phone"}
    assert not Promoter.objects.exists()


def test_at_most_1000_promoters_per_request(brand):
    L = brand.live().public_id
    people = [{"name": f"推广员{i}"} for i in range(1001)]
    answer = post(brand, f"/lives/{L}/promoters", people)
    assert answer.status_code == 422
    assert "1000" in answer.json()["detail"]
    assert not Promoter.objects.exists()


# --- figures ----------------------------------------------------------------------------------

@pytest.fixture
def shop(brand):
    """A live with three promoters in two teams and a small evening of events."""
    L = brand.live(promoters=[]).public_id
    enrolled = post(brand, f"/lives/{L}/promoters", [
        {"name": "Ada 张三", "code": "A", "team": "杭州店"},
        {"name": "Ben 李四", "code": "B", "team": "上海店"},
        {"name": "Cy 王五", "code": "C", "team": "杭州店"},
    ])
    assert enrolled.status_code == 201
    answer = brand.send([
        event("e1", "reservation", L, "V1", promoter="A"),
        event("e2", "reservation", L, "V2", promoter="B"),
        event("e3", "reservation", L, "V3"),
        event("e4", "room_enter", L, "V1"),
        event("e5", "room_enter", L, "V2"),
        event("e6", "room_enter", L, "V5"),
        event("e7", "order_paid", L, "V1", order="O1", amount=12900),
        event("e8", "order_paid", L, "V2", order="O2", amount=5900, promoter="B"),
        event("e9", "order_paid", L, "V1", order="O3", amount=2000),
        event("e10", "order_refund", L, "V1", order="O1", amount=4900),
        event("e11", "order_paid", L, "V5", order="O4", amount=1000),
        event("e12", "follow", L, "V2"),
        event("e13", "capture", L, "V1", attrs={"channel": "wecom"}),
        event("e14", "online", L, "platform", count=321),
        event("e15", "online", L, "platform", count=120),
    ]).json()
    assert (answer["accepted"], answer["rejected"]) == (15, [])
    return L


FIGS = ("reservations", "entered", "buyers", "orders", "gmv", "refunded", "net", "follows", "captures")


def test_summary_figures(brand, shop):
    body = get(brand, f"/lives/{shop}/summary").json()
    assert body["live"] == shop and body["state"] == "scheduled"
    assert {f: body[f] for f in FIGS} == {
        "reservations": 3, "entered": 3, "buyers": 3, "orders": 4, "gmv": 21800,
        "refunded": 4900, "net": 16900, "follows": 1, "captures": 1}
    assert body["peak_online"] == 321
    assert body["reservations_lapsed"] is False


def test_promoter_rows(brand, shop):
    rows = get(brand, f"/lives/{shop}/promoters").json()
    assert rows[0]["promoter"] is None and rows[0]["name"] is None and rows[0]["team"] is None
    by_code = {r["promoter"]: r for r in rows}
    assert set(by_code) == {None, "A", "B", "C"}
    assert set(rows[0]) == {"promoter", "name", "team", *FIGS, "self_referrals", "suspect_reservations"}
    assert (by_code["A"]["name"], by_code["A"]["team"]) == ("Ada 张三", "杭州店")
    assert {f: by_code["A"][f] for f in FIGS} == {
        "reservations": 1, "entered": 1, "buyers": 1, "orders": 2, "gmv": 14900,
        "refunded": 4900, "net": 10000, "follows": 0, "captures": 1}
    assert {f: by_code["B"][f] for f in FIGS} == {
        "reservations": 1, "entered": 1, "buyers": 1, "orders": 1, "gmv": 5900,
        "refunded": 0, "net": 5900, "follows": 1, "captures": 0}
    assert all(by_code["C"][f] == 0 for f in FIGS)
    assert {f: by_code[None][f] for f in FIGS} == {
        "reservations": 1, "entered": 1, "buyers": 1, "orders": 1, "gmv": 1000,
        "refunded": 0, "net": 1000, "follows": 0, "captures": 0}
    summary = get(brand, f"/lives/{shop}/summary").json()
    for figure in FIGS:
        assert sum(r[figure] for r in rows) == summary[figure], figure


@pytest.mark.parametrize("sort, expected", [
    ("-gmv", ["A", "B", "C"]),
    ("gmv", ["C", "B", "A"]),
    ("name", ["A", "B", "C"]),
    ("-name", ["C", "B", "A"]),
    ("-follows", ["B", "A", "C"]),
    ("-code", ["C", "B", "A"]),
])
def test_promoter_rows_sort(brand, shop, sort, expected):
    rows = get(brand, f"/lives/{shop}/promoters", sort=sort).json()
    assert rows[0]["promoter"] is None  # the unattributed row leads whatever the order
    assert [r["promoter"] for r in rows[1:]] == expected


@pytest.mark.parametrize("sort", ["bogus", "-phone", "promoter__org__slug"])
def test_promoter_rows_bad_sort(brand, shop, sort):
    assert error_fields(get(brand, f"/lives/{shop}/promoters", sort=sort)) == {"sort"}


def test_promoter_rows_by_team(brand, shop):
    rows = get(brand, f"/lives/{shop}/promoters", team="杭州店", sort="code").json()
    assert [r["promoter"] for r in rows] == ["A", "C"]
    assert get(brand, f"/lives/{shop}/promoters", team="没有这个店").json() == []


def test_promoter_rows_as_csv(brand, shop):
    response = get(brand, f"/lives/{shop}/promoters", format="csv", sort="code")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert shop in response["Content-Disposition"]
    table = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    header, body = table[0], table[1:]
    assert header == ["promoter", "name", "team", "reservations", "entered", "buyers", "orders",
                      "gmv", "refunded", "net", "follows", "captures", "self_referrals",
                      "suspect_reservations"]
    json_rows = get(brand, f"/lives/{shop}/promoters", sort="code").json()
    assert len(body) == len(json_rows) == 4
    for line, row in zip(body, json_rows):
        assert line == ["" if row[c] is None else str(row[c]) for c in header]
    assert [line[1] for line in body] == ["", "Ada 张三", "Ben 李四", "Cy 王五"]
    assert body[1][2] == "杭州店"


def test_unknown_format_is_refused(brand, shop):
    assert error_fields(get(brand, f"/lives/{shop}/promoters", format="xlsx")) == {"format"}


# --- the schema -------------------------------------------------------------------------------

def test_openapi_lists_the_paths(brand):
    answer = brand.api.get(f"{API}/openapi.json")
    assert answer.status_code == 200
    paths = {p.removeprefix(API) for p in answer.json()["paths"]}
    assert {"/events", "/lives", "/lives/{live_id}", "/lives/{live_id}/summary",
            "/lives/{live_id}/promoters", "/lives/{live_id}/programme"} <= paths
    assert "post" in answer.json()["paths"][f"{API}/lives/{{live_id}}/promoters"]


def test_csv_cells_that_look_like_formulas_stay_text(brand):
    live = brand.live()
    brand.api.post(f"/api/v1/lives/{live.public_id}/promoters",
                   {"name": "=HYPERLINK(\"http://x\")", "team": "+门店", "code": "F1"},
                   content_type="application/json")
    body = brand.api.get(f"/api/v1/lives/{live.public_id}/promoters?format=csv").content.decode("utf-8-sig")
    assert "'=HYPERLINK" in body and "'+门店" in body
