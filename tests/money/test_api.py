"""The read-only money API: statements, a promoter's ledger, a live's settlement; shapes,
filters, pagination and tenancy (another organisation's ids answer 404)."""
import pytest

from liveloop.money import payouts
from liveloop.money.ledger import adjust
from liveloop.money.models import Statement
from liveloop.money.plans import save_plan
from liveloop.money.settlement import settle_live
from liveloop.promoters.models import Promoter
from tests.actors import ended_live

pytestmark = pytest.mark.django_db


def test_a_live_moves_from_settleable_to_settled(brand, live):
    answer = brand.api.get(f"/api/v1/lives/{live.public_id}/settlement")
    assert answer.status_code == 200
    body = answer.json()
    assert (body["state"], body["run"], body["statements"], body["payable"]) == ("settleable", None, 0, 0)
    run = settle_live(brand.org, live)
    body = brand.api.get(f"/api/v1/lives/{live.public_id}/settlement").json()
    assert body["state"] == "settled" and body["run"] == run.pk and body["plan"] == "标准方案"
    assert (body["statements"], body["gross"], body["tax"], body["payable"]) == (2, 933, 0, 933)
    assert body["by_state"] == {"frozen": 2} and body["upto_seq"] == run.upto_seq
    fresh = brand.live(title="未开播")
    assert brand.api.get(f"/api/v1/lives/{fresh.public_id}/settlement").json()["state"] == "not_ended"
    recent = ended_live(brand, title="昨天", days=1, promoters=("PC",), sales=[])
    assert brand.api.get(f"/api/v1/lives/{recent.public_id}/settlement").json()["state"] == "open"


def test_statements_list_filters_and_pages(brand, live):
    run = settle_live(brand.org, live)
    payouts.approve(brand.org, None, Statement.objects.for_org(brand.org).filter(promoter__code="PA"))
    body = brand.api.get("/api/v1/statements").json()
    assert body["count"] == 2 and body["offset"] == 0
    row = next(r for r in body["items"] if r["promoter"] == "PA")
    assert row == {**row, "live": live.public_id, "live_commission": 600, "carried": 0, "gross": 600,
                   "tax": 0, "payable": 600, "state": "settled", "name": "推广员PA"}
    assert [r["promoter"] for r in brand.api.get("/api/v1/statements?state=frozen").json()["items"]] == ["PB"]
    assert brand.api.get(f"/api/v1/statements?live={live.public_id}&limit=1").json()["count"] == 2
    assert len(brand.api.get("/api/v1/statements?limit=1&offset=1").json()["items"]) == 1
    assert brand.api.get("/api/v1/statements?state=nonsense").status_code == 422
    assert brand.api.get("/api/v1/statements?live=Lnowhere").status_code == 404
    assert run.pk


def test_a_statement_with_lines_and_breakdown(brand, live):
    run = settle_live(brand.org, live)
    number = Statement.objects.for_org(brand.org).get(run=run, promoter__code="PB").number
    body = brand.api.get(f"/api/v1/statements/{number}").json()
    assert body["number"] == number and body["payable"] == 333
    line, = body["lines"]
    assert line["label"] == live.title and line["amount"] == 333 and line["entry_kind"] is None
    assert line["figures"]["net_fen"] == 3_333
    assert line["breakdown"][0] == {"kind": "rate", "fen": 333, "base_fen": 3_333, "rate_bps": 1000,
                                    "count": None, "unit_fen": None, "level": None, "team": None}


def test_a_promoters_ledger(brand, live):
    pa = Promoter.objects.for_org(brand.org).get(code="PA")
    adjust(brand.org, None, pa, 1_234, "补发")
    body = brand.api.get("/api/v1/promoters/PA/ledger").json()
    assert body["promoter"] == "PA" and body["count"] == 3
    assert [(e["kind"], e["amount"], e["live"]) for e in body["entries"]] == [
        ("accrual", 1_000, live.public_id), ("reversal", -400, live.public_id), ("adjustment", 1_234, None)]
    assert body["balances"] == {"pending": 600 + 1_234, "frozen": 0, "settled": 0, "paid": 0}
    assert body["entries"][0]["upto_seq"] is not None
    only_live = brand.api.get(f"/api/v1/promoters/PA/ledger?live={live.public_id}").json()
    assert only_live["count"] == 2


def test_money_of_another_organisation_answers_404(brand, outsider, live):
    save_plan(outsider.org, None, name="别家", fields={"rate_bps": 500}, make_default=True)
    theirs = ended_live(outsider, title="别家专场", promoters=("QA", "QB"),
                        sales=[("x1", "w1", 98_765, "QA")])
    run = settle_live(outsider.org, theirs)
    number = run.statements.get().number
    assert brand.api.get(f"/api/v1/statements/{number}").status_code == 404
    assert brand.api.get("/api/v1/promoters/QA/ledger").status_code == 404
    assert brand.api.get(f"/api/v1/lives/{theirs.public_id}/settlement").status_code == 404
    assert brand.api.get(f"/api/v1/statements?live={theirs.public_id}").status_code == 404
    assert brand.api.get("/api/v1/statements?promoter=QA").status_code == 404
    assert brand.api.get("/api/v1/statements").json()["count"] == 0
    # The outsider's own key sees them.
    assert outsider.api.get(f"/api/v1/statements/{number}").json()["payable"] == 4_938  # 98,765 × 5% = 4,938.25
    assert outsider.api.get("/api/v1/promoters/QA/ledger").status_code == 200


def test_the_money_api_changes_nothing(brand, live):
    settle_live(brand.org, live)
    number = Statement.objects.for_org(brand.org).first().number
    for method in ("post", "put", "patch", "delete"):
        for url in ("/api/v1/statements", f"/api/v1/statements/{number}", "/api/v1/promoters/PA/ledger",
                    f"/api/v1/lives/{live.public_id}/settlement"):
            assert getattr(brand.api, method)(url, {}, content_type="application/json").status_code == 405, (method, url)
