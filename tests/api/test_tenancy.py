"""An API key of one organisation gets 404 for every id of another.

The routes are read from the NinjaAPI object itself, so a route added later is swept too; a
route with a path parameter or a body this file cannot fill fails loudly instead of being skipped.
"""
import re

import pytest
from django.test import Client
from django.urls import reverse

from liveloop.api import api
from liveloop.events.models import Event
from liveloop.lives.models import Live
from liveloop.promoters.models import Enrolment, Programme, Promoter
from tests.actors import event


ROOT = reverse("api:openapi-json").removesuffix("/openapi.json")


def _routes():
    routes = []
    for prefix, router in api._routers:
        for path, path_view in router.path_operations.items():
            path = re.sub("/+", "/", f"/{prefix}/{path}")
            for operation in path_view.operations:
                for method in operation.methods:
                    routes.append((method, path, operation))
    return routes


ROUTES = _routes()
PARAMETER = re.compile(r"{(?:\w+:)?(\w+)}")
ID_ROUTES = [r for r in ROUTES if PARAMETER.search(r[1])]


def _route_id(route):
    return f"{route[0]} {route[1]}"


# A valid body for each route that takes one, so it is tenancy (or the key), not validation,
# that answers. Each is built for the tenant making the call.
BODIES = {
    ("POST", "/lives/{live_id}/promoters"):
        lambda tenant: [{"name": "越界者", "phone": "13912345678", "code": "X1"}],
    ("PATCH", "/lives/{live_id}/programme"):
        lambda tenant: {"cap": 1, "mode": "last_touch", "binding_days": 1, "is_open": False},
    ("POST", "/lives"):
        lambda tenant: {"title": "越界直播", "account": tenant.account.pk,
                        "announced_at": "2027-12-01T20:00:00+08:00"},
    ("POST", "/accounts"): lambda tenant: {"name": "越界账号"},
    ("POST", "/teams"): lambda tenant: {"name": "越界门店"},
}


def _needs_body(operation) -> bool:
    sources = {getattr(model, "__ninja_param_source__", None) for model in operation.models}
    unknown = sources - {"path", "query", "body"}
    if unknown:
        pytest.fail(f"{operation.view_func.__name__}: parameters from {sorted(unknown)}; "
                    "teach test_tenancy.py to fill them")
    return "body" in sources


def _call(client, route, values, tenant):
    method, path, operation = route
    missing = [name for name in PARAMETER.findall(path) if name not in values]
    if missing:
        pytest.fail(f"{method} {path}: no value for path parameter(s) {missing}; "
                    "teach test_tenancy.py which object of another organisation to use")
    url = ROOT + PARAMETER.sub(lambda m: values[m.group(1)], path)
    kwargs = {}
    if _needs_body(operation):
        if (method, path) not in BODIES:
            pytest.fail(f"{method} {path}: no valid body known; add one to BODIES")
        kwargs = {"data": BODIES[(method, path)](tenant), "content_type": "application/json"}
    return getattr(client, method.lower())(url, **kwargs)


@pytest.fixture
def theirs(outsider):
    """The outsider's live with promoters and figures that a leak would change."""
    live = outsider.live(title="别家直播", promoters=["A", "B"])
    answer = outsider.send([
        event("o1", "reservation", live.public_id, "V1", promoter="A"),
        event("o2", "room_enter", live.public_id, "V2", promoter="B"),
        event("o3", "order_paid", live.public_id, "V2", order="OX", amount=9900),
    ]).json()
    assert answer["accepted"] == 3
    return live


def _statement_number(tenant, code: str) -> str:
    """A live settled a month ago with one statement, for `code` (money routes name statements)."""
    from datetime import datetime, timedelta, timezone

    from liveloop.actions.lives import end_live, start_live
    from liveloop.money.plans import save_plan
    from liveloop.money.settlement import settle_live

    start = datetime.now(timezone.utc) - timedelta(days=30)
    live = tenant.live(title="已结算直播", announced_at=start, promoters=[code])
    start_live(live, start)
    assert tenant.send([event(f"settled-{code}", "order_paid", live.public_id, "VS", order=f"OS-{code}",
                              amount=5000, promoter=code, at=start + timedelta(minutes=5))]).json()["accepted"] == 1
    end_live(live, start + timedelta(hours=2))
    save_plan(tenant.org, None, name="结算方案", fields={"rate_bps": 1000}, make_default=True)
    return settle_live(tenant.org, live).statements.get().number


def _snapshot(tenant, live):
    base = f"/api/v1/lives/{live.public_id}"
    return {
        "live": tenant.api.get(base).json(),
        "programme": tenant.api.get(f"{base}/programme").json(),
        "summary": tenant.api.get(f"{base}/summary").json(),
        "promoters": tenant.api.get(f"{base}/promoters").json(),
        "enrolments": Enrolment.objects.for_org(tenant.org).count(),
        "promoter_rows": sorted(Promoter.objects.for_org(tenant.org).values_list("code", "phone")),
        "events": Event.objects.for_org(tenant.org).count(),
    }


def test_the_sweep_sees_the_routes():
    swept = {(method, path) for method, path, _ in ID_ROUTES}
    assert {("GET", "/lives/{live_id}"), ("GET", "/lives/{live_id}/summary"),
            ("GET", "/lives/{live_id}/promoters"), ("POST", "/lives/{live_id}/promoters"),
            ("GET", "/lives/{live_id}/programme"), ("PATCH", "/lives/{live_id}/programme"),
            ("POST", "/lives/{live_id}/cancel"), ("POST", "/lives/{live_id}/start"),
            ("POST", "/lives/{live_id}/end")} <= swept
    assert {("POST", "/events"), ("GET", "/lives"), ("POST", "/lives")} <= {r[:2] for r in ROUTES}


@pytest.mark.parametrize("route", ID_ROUTES, ids=_route_id)
def test_ids_of_another_organisation_answer_404(brand, outsider, theirs, route):
    names_statement = "{number}" in route[1]
    values = {"live_id": theirs.public_id, "code": "A",
              "number": _statement_number(outsider, "A") if names_statement else "S00000-A"}
    before = _snapshot(outsider, theirs)
    brand_events = Event.objects.for_org(brand.org).count()

    answer = _call(brand.api, route, values, brand)
    assert answer.status_code == 404, answer.content

    assert _snapshot(outsider, theirs) == before
    assert before["live"]["state"] == "scheduled"
    assert Event.objects.for_org(brand.org).count() == brand_events
    assert not Promoter.objects.for_org(brand.org).exists()
    assert Programme.objects.get(live=theirs).cap == 1000

    # The same call on the brand's own live is answered on its merits: the 404 above was tenancy.
    own = brand.live(promoters=["A"])
    control = _call(brand.api, route, {"live_id": own.public_id, "code": "A",
                                       "number": _statement_number(brand, "A") if names_statement else ""}, brand)
    assert control.status_code not in (404, 422) and control.status_code < 500, control.content


@pytest.mark.parametrize("route", ID_ROUTES, ids=_route_id)
def test_an_unknown_id_answers_404(brand, route):
    brand.live()
    answer = _call(brand.api, route, {"live_id": "Lnosuchlive", "code": "NOPE", "number": "S99999-NOPE"}, brand)
    assert answer.status_code == 404, answer.content


@pytest.mark.parametrize("route", ROUTES, ids=_route_id)
@pytest.mark.parametrize("authorization", [None, "Bearer ll_not-a-key", "Basic dXNlcjpwYXNz"])
def test_no_valid_key_answers_401(brand, route, authorization):
    live = brand.live(promoters=["A"])
    client = Client(HTTP_AUTHORIZATION=authorization) if authorization else Client()
    answer = _call(client, route, {"live_id": live.public_id, "code": "A", "number": "S00001-A"}, brand)
    assert answer.status_code == 401, answer.content
    assert list(Live.objects.values_list("pk", "state")) == [(live.pk, "scheduled")]
    assert not Event.objects.exists()
    assert Enrolment.objects.for_org(brand.org).count() == 1


def test_a_revoked_key_answers_401(brand):
    from django.utils import timezone

    from liveloop.orgs.models import ApiKey

    assert brand.api.get("/api/v1/lives").status_code == 200
    ApiKey.objects.for_org(brand.org).update(revoked_at=timezone.now())
    assert brand.api.get("/api/v1/lives").status_code == 401


def test_lists_show_only_the_own_organisation(brand, outsider, theirs):
    brand.live(title="自家直播")
    outsider.api.post("/api/v1/teams", {"name": "别家门店"}, content_type="application/json")
    assert [x["title"] for x in brand.api.get("/api/v1/lives").json()] == ["自家直播"]
    assert [a["name"] for a in brand.api.get("/api/v1/accounts").json()] == ["山茶集 官方号"]
    assert brand.api.get("/api/v1/teams").json() == []


def test_events_for_a_live_of_another_organisation_are_rejected(brand, outsider, theirs):
    before = _snapshot(outsider, theirs)
    answer = brand.send([
        event("x1", "reservation", theirs.public_id, "V9", promoter="A"),
        event("x2", "order_paid", theirs.public_id, "V9", order="OY", amount=100),
        # A refund on the outsider's order must not reach it either.
        event("x3", "order_refund", theirs.public_id, "V2", order="OX", amount=9900),
    ])
    assert answer.status_code == 200
    body = answer.json()
    assert body["accepted"] == 0
    assert [r["id"] for r in body["rejected"]] == ["x1", "x2", "x3"]
    assert all("unknown live" in r["error"] for r in body["rejected"])
    assert _snapshot(outsider, theirs) == before
    assert not Event.objects.for_org(brand.org).exists()


def test_an_outsider_order_id_cannot_be_refunded_from_the_brand(brand, outsider, theirs):
    """Order ids are per organisation: the brand's own live cannot reach the outsider's order."""
    mine = brand.live()
    before = _snapshot(outsider, theirs)
    body = brand.send([event("y1", "order_refund", mine.public_id, "V2", order="OX", amount=100)]).json()
    assert body["accepted"] == 0
    assert "unknown order" in body["rejected"][0]["error"]
    assert _snapshot(outsider, theirs) == before
