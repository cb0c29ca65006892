"""A live that ended eight days ago with two promoters' orders and a 10% plan: past the
default seven-day refund window, so it can be settled now (pages use the real clock)."""
from datetime import datetime, timedelta, timezone

import pytest
from django.test import Client

from liveloop.events.ingest import ingest
from liveloop.actions.lives import end_live, start_live
from liveloop.money.plans import save_plan
from liveloop.orgs.models import Member
from liveloop.orgs.services import add_member
from tests.conftest import event


def ago(days: float) -> datetime:
    return datetime.now(timezone.utc).replace(microsecond=0) - timedelta(days=days)


def sale(id, live, viewer, amount, code, at):
    return event(f"paid-{id}", "order_paid", live.public_id, viewer, at=at, order=id, amount=amount, promoter=code)


def refund(id, live, viewer, amount, at):
    return event(f"refund-{id}", "order_refund", live.public_id, viewer, at=at, order=id, amount=amount)


def ended_live(tenant, title="上周专场", days=8, promoters=("PA", "PB"), sales=None):
    """A live that ended `days` ago; PA sold ¥100.00 (¥40.00 refunded), PB ¥33.33."""
    start = ago(days) - timedelta(hours=2)
    live = tenant.live(title=title, announced_at=start, promoters=promoters)
    start_live(live, start)
    sales = sales if sales is not None else [("o1", "v1", 10_000, "PA"), ("o2", "v2", 3_333, "PB")]
    answer = ingest(tenant.org, [sale(f"{live.public_id}-{o}", live, v, amount, code, start + timedelta(minutes=5 + i))
                                 for i, (o, v, amount, code) in enumerate(sales)])
    assert answer.accepted == len(sales), answer.rejected
    if sales and sales[0][3] == "PA":
        first = f"{live.public_id}-{sales[0][0]}"
        assert ingest(tenant.org, [refund(first, live, sales[0][1], 4_000, start + timedelta(minutes=30))]).accepted == 1
    end_live(live, start + timedelta(hours=2))
    live.refresh_from_db()
    return live


@pytest.fixture
def plan(brand):
    return save_plan(brand.org, None, name="标准方案", fields={"rate_bps": 1000}, make_default=True)


@pytest.fixture
def live(brand, plan):
    return ended_live(brand)


@pytest.fixture
def clients(brand):
    """A signed-in client per role of the brand."""
    result = {}
    for role in (Member.OWNER, Member.OPERATOR, Member.FINANCE, Member.VIEWER):
        member = add_member(brand.org, f"money-{role}", role)
        client = Client()
        client.force_login(member.user)
        result[role] = client
    return result


def run_confirm(run) -> dict:
    """The bulk approval's confirmation box as the run page shows it: count and sum (fen)."""
    from django.db.models import Sum

    frozen = run.statements.filter(state="frozen")
    return {"confirm": f"{frozen.count()}:{frozen.aggregate(t=Sum('payable'))['t'] or 0}"}


def batch_confirm(org) -> dict:
    """The payout batch's confirmation box as the batches page shows it."""
    from django.db.models import Sum

    from liveloop.money.payouts import batchable

    waiting = batchable(org)
    return {"confirm": f"{waiting.count()}:{waiting.aggregate(t=Sum('payable'))['t'] or 0}"}
