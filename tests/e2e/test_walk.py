"""Walk every operator, finance and promoter page in Chinese at 1366 px and at 390 px, with
realistic data (long plan, store and promoter names, a settled live, a payout batch), and
fail on a page wider than the screen, on a visible string outside the translation catalogue
(English words, raw action codes, amounts in fen) and on a time shown in another zone than
the organisation's. Every form is sent once with bad input, and the upload with a bad file,
and its error page is checked the same way (issue 19).

To walk a new page, add a row to `pages()` (or `forms()`); the checks are in walk.py."""
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Error as PlaywrightError
from django.urls import reverse

from liveloop.events.ingest import ingest
from liveloop.events.models import Event
from liveloop.integrations.models import Shop, ShopLive
from liveloop.actions.lives import end_live, start_live
from liveloop.money import payouts
from liveloop.money.models import PayoutBatch, Statement
from liveloop.money.plans import choose_plan, save_plan
from liveloop.money.settlement import settle_live
from liveloop.orgs.models import ApiKey, AuditEntry, Member, Organisation
from liveloop.orgs.services import add_member, create_org
from liveloop.promoters.links import own_page_url
from liveloop.promoters.models import Enrolment, JoinCode, Promoter, Team
from liveloop.rules.privacy import mask_viewer
from liveloop.actions.promoters import NewPromoter, enrol
from tests.actors import event
from tests.e2e.browser import OPERATOR_PASSWORD, look
from tests.e2e.walk import ALWAYS_ALLOWED, Checks, catalogue_words, words

pytestmark = pytest.mark.e2e

ZONE = ZoneInfo("Asia/Shanghai")
WIDE = {"viewport": {"width": 1366, "height": 900}}
NARROW = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 1, "is_mobile": True, "has_touch": True}
WIDTHS = {"1366": WIDE, "390": NARROW}
# The browser's own zone is not the organisation's: a page that formatted a time in the
# browser's zone would show a known event's UTC clock and fail.
BROWSER_ZONE = "Etc/UTC"

LONG_PLAN = "双十二大促门店导购与社群团长专用阶梯佣金方案（含新客奖励、预约奖励、店长两级提成与封顶规则）第二版"
LONG_STORE = "上海市徐汇区漕河泾开发区宜山路旗舰体验店（二期扩建新址）"
LONG_NAME = "欧阳娜娜·山茶集首席体验官·徐汇旗舰店导购组长"
LONG_TITLE = "山茶集双十二年终狂欢节·全国门店导购联动专场直播（新品首发与会员专享福利）"
PEOPLE = [  # code, name, store
    ("PA", LONG_NAME, LONG_STORE),
    ("PB", "李晓梅", "杭州湖滨银泰in77店"),
    ("PC", "王芳", LONG_STORE),
    ("SH0001234567", "张伟伟伟伟伟伟伟伟伟伟伟伟伟伟伟伟伟伟伟伟伟伟伟伟伟伟", "北京朝阳大悦城店"),
]
# Distinctive amounts (fen): a page that shows one of them as a bare number shows fen.
SALES = [("PA", 1_234_567), ("PB", 98_765), ("PC", 45_678), ("SH0001234567", 33_321)]
REFUND = 23_456


def at(day_offset: int, hour: int, minute: int) -> datetime:
    """A UTC instant on a day relative to today: the minutes are what the time check reads."""
    today = datetime.now(timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0)
    return today + timedelta(days=day_offset, hours=hour, minutes=minute)


@dataclass
class World:
    settled: object
    upcoming: object
    other: object
    plan: object
    run: object
    batch: object
    statement: object
    shop: object
    team: object
    join_token: str
    own_page: str
    own_page_settled: str
    instants: list


def build(brand, user) -> World:
    """Three lives of 山茶集 (one settled, approved and in a payout batch; one ended and open;
    one upcoming with reservations), two plans, a long-named store and a connected shop."""
    org = brand.org
    save_plan(org, user, name="标准方案", fields={"rate_bps": 1000}, make_default=True)
    plan = save_plan(org, user, name=LONG_PLAN, fields={"rate_bps": 1200, "new_buyer_bounty_fen": 500})

    start = at(-9, 11, 47)  # 19:47 in Shanghai
    settled = brand.live(title=LONG_TITLE, announced_at=start)
    enrol(settled.programme, [NewPromoter(name=n, code=c, team=s, phone=f"1380013{i:04d}")
                              for i, (c, n, s) in enumerate(PEOPLE)])
    choose_plan(org, user, settled, plan)
    start_live(settled, start)
    orders = [event(f"paid-{code}", "order_paid", settled.public_id, f"v-{code}", at=start + timedelta(minutes=5 + i),
                    order=f"o-{code}", amount=amount, promoter=code) for i, (code, amount) in enumerate(SALES)]
    orders.append(event("refund-PA", "order_refund", settled.public_id, "v-PA", at=start + timedelta(minutes=40),
                        order="o-PA", amount=REFUND))
    assert ingest(org, orders).accepted == len(orders)
    end_live(settled, start + timedelta(hours=2))

    other_start = at(-3, 10, 13)  # 18:13
    other = brand.live(title="周三晚间上新", announced_at=other_start, promoters=["PA", "PB"])
    start_live(other, other_start)
    assert ingest(org, [event("paid-o2", "order_paid", other.public_id, "v9", at=other_start + timedelta(minutes=9),
                              order="o-other", amount=76_543, promoter="PB")]).accepted == 1
    end_live(other, other_start + timedelta(hours=1))

    upcoming = brand.live(title=LONG_TITLE + "·预热", announced_at=at(2, 12, 34),  # 20:34
                          promoters=[c for c, _, _ in PEOPLE])
    reserved = at(-1, 3, 21)  # 11:21
    assert ingest(org, [event(f"r{i}", "reservation", upcoming.public_id, f"viewer{i}", promoter=code,
                              at=reserved + timedelta(minutes=i)) for i, code in enumerate(["PA", "PB", "PA"])]).accepted == 3

    run = settle_live(org, settled, user=user)
    frozen = Statement.objects.for_org(org).filter(run=run, state="frozen")
    payouts.approve(org, user, frozen)
    batch = payouts.create_batch(org, user)
    statement = Statement.objects.for_org(org).filter(run=run, promoter__code="PA").get()

    shop = Shop.objects.create(org=org, name="山茶集官方视频号小店·华东大区旗舰店（测试）", appid="wx5f3a9c1d2e7b0a11",
                               token="pushtoken123", encoding_aes_key="abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG",
                               app_secret="shop-secret-for-tests")
    ShopLive.objects.create(org=org, shop=shop, channels_live_id="export/UzFfAgtgekIEAQAAAAAAb4MLive", live=upcoming)
    enrolment = Enrolment.objects.for_org(org).get(programme__live=upcoming, promoter__code="PA")

    # The brand is an agency's client and the owner a member of the agency too: the header
    # offers both organisations, and the agency's scorecards are walked.
    agency, _ = create_org("星河品牌服务商（华东大区直播运营中心）", kind=Organisation.AGENCY)
    org.agency = agency
    org.save(update_fields=["agency"])
    Member.objects.create(org=agency, user=user, role=Member.OWNER)
    return World(settled=settled, upcoming=upcoming, other=other, plan=plan, run=run, batch=batch,
                 statement=statement, shop=shop, team=Team.objects.for_org(org).get(name=LONG_STORE),
                 join_token=JoinCode.objects.for_org(org).filter(programme__live=upcoming).first().token,
                 own_page=own_page_url(enrolment),
                 own_page_settled=own_page_url(Enrolment.objects.for_org(org).get(programme__live=settled,
                                                                                  promoter__code="PA")),
                 instants=[start, start + timedelta(hours=2), other_start, other_start + timedelta(hours=1),
                           upcoming.announced_at, reserved])


def pages(w: World) -> dict[str, str]:
    """Every page the walk opens (name → URL), operators' and finance's signed in as the owner."""
    s, u = w.settled.public_id, w.upcoming.public_id
    return {
        "lives": reverse("web:lives"),
        "calendar": reverse("web:calendar"),
        "new-live": reverse("web:new_live"),
        "live-settled": reverse("web:live", args=[s]),
        "live-upcoming": reverse("web:live", args=[u]),
        "edit-live": reverse("web:edit_live", args=[u]),
        "cancel-live": reverse("web:cancel_live", args=[u]),
        "programme": reverse("web:programme", args=[u]),
        "room": reverse("web:room", args=[s]),
        "planner": reverse("web:planner", args=[u]),
        "report": reverse("web:report", args=[s]),
        "trends": reverse("web:trends"),
        "matrix": reverse("web:matrix") + f"?mode=lives&lives={s}&lives={w.other.public_id}&lives={u}",
        "notices": reverse("web:notices"),
        "settings": reverse("web:settings"),
        "shops": reverse("web:shops"),
        "shop": reverse("web:shop", args=[w.shop.pk]),
        "money": reverse("web:money"),
        "money-settings": reverse("web:money_settings"),
        "plans": reverse("web:money_plans"),
        "plan-new": reverse("web:money_plan_new"),
        "plan": reverse("web:money_plan", args=[w.plan.pk]),
        "run": reverse("web:money_run", args=[w.run.pk]),
        "statement": reverse("web:money_statement", args=[w.statement.number]),
        "batches": reverse("web:money_batches"),
        "batch": reverse("web:money_batch", args=[w.batch.pk]),
        "ledger": reverse("web:money_ledger", args=["PA"]),
        "ledger-live": reverse("web:money_ledger_live", args=["PA", s]),
        "teams": reverse("web:money_teams"),
        "audit": reverse("web:money_audit"),
        "scorecards": reverse("web:scorecards") + f"?month={w.settled.announced_at.astimezone(ZONE):%Y-%m}",
    }


def signed_out_pages(w: World) -> dict[str, str]:
    """The pages of people who do not sign in (a promoter, a viewer), and the sign-in page."""
    return {
        "login": reverse("web:login"),
        "own-page": w.own_page,
        "own-page-settled": w.own_page_settled,  # the settled commission and its statement
        "invite": reverse("phone:invite", args=[w.upcoming.public_id, "PA"]),
        "join": reverse("phone:join", args=[w.join_token]),
    }


# Tables that must fit a desktop screen without scrolling sideways (issue 19: a long plan name
# widened the plan menu until the settlement column left the page).
FIT_AT_1366 = {"money": "table.money-lives", "run": "table.data"}
# Cells whose names must not wrap a character per line (the room is watched on phones): at
# most this many lines high (name, code, and on a phone the store under them).
NAME_CELLS = {"room": (".room-top tbody th", 3)}

FITS_SCRIPT = """(selector) => [...document.querySelectorAll(selector)].filter((table) =>
  table.parentElement.scrollWidth > table.parentElement.clientWidth + 1).length"""
LINES_SCRIPT = """(selector) => [...document.querySelectorAll(selector)].map((cell) => {
  const style = getComputedStyle(cell);
  const line = parseFloat(style.lineHeight) || parseFloat(style.fontSize) * 1.5;
  return {lines: Math.round((cell.clientHeight - parseFloat(style.paddingTop) - parseFloat(style.paddingBottom)) / line),
          text: cell.innerText.slice(0, 30)};
})"""


def forms(w: World) -> list[tuple[str, str, str, dict]]:
    """(name, page, form selector, {field name: bad value}) — each form sent once with bad
    input; a field value of bytes is a file to upload."""
    u = w.upcoming.public_id
    return [
        ("new-live", reverse("web:new_live"), "main form.fields",
         {"title": "", "announced_at": "2020-01-01T20:00"}),
        ("plan", reverse("web:money_plan_new"), "main form.fields", {"name": "", "rate_percent": "-5", "tiers": "abc"}),
        ("money-settings", reverse("web:money_settings"), "main form.fields", {"refund_window_days": "-1"}),
        ("ledger-adjust", reverse("web:money_ledger", args=["PA"]), "main form.fields",
         {"amount": "abc", "reason": ""}),
        ("member-add", reverse("web:settings"), 'form[action$="/settings/members/"]',
         {"username": "", "password": "123"}),
        ("key-create", reverse("web:settings"), 'form[action$="/settings/keys/"]', {"name": ""}),
        ("shop-add", reverse("web:shops"), "main form.fields", {"name": "", "appid": "not-an-appid"}),
        ("shop-map", reverse("web:shop", args=[w.shop.pk]), 'form[action$="/lives/"]', {"channels_live_id": ""}),
        ("edit-live", reverse("web:edit_live", args=[u]), "main form.fields", {"title": "", "preview_url": "ftp://x"}),
        ("invite-codes", reverse("web:programme", args=[u]), 'form[action$="/programme/codes/"]', {"count": "0"}),
        ("team", reverse("web:money_teams"), f'form[action="{reverse("web:money_team", args=[w.team.pk])}"]',
         {"leader": "NOBODY"}),
        ("shop-backfill", reverse("web:shop", args=[w.shop.pk]), 'form[action$="/backfill/"]',
         {"since": "2026-12-09", "until": "2026-12-01"}),
        ("shop-link", reverse("web:shop", args=[w.shop.pk]), 'form[action$="/link/"]', {"openid": ""}),
        ("planner-target", reverse("web:planner", args=[u]), "main form.fields", {"target": "-1"}),
        ("batch-results", reverse("web:money_batch", args=[w.batch.pk]), "main form.fields",
         {"results": b"\x89PNG\r\n\x1a\n not a results file"}),
        ("timezone", reverse("web:settings"), 'form[action$="/settings/timezone/"]', {"timezone": "Mars/Olympus"}),
        ("planner-settings", reverse("web:settings"), 'form[action$="/settings/planner/"]',
         {"public_match_percent": "-3", "public_match_cap": "x"}),
        ("trends", reverse("web:trends"), "form.trends-filter", {"since": "2026-12-09", "until": "2026-12-01"}),
        ("join", reverse("phone:join", args=[w.join_token]), "main form", {"name": "", "phone": "12"}),
        ("login", reverse("web:login"), "main form", {"username": "owner", "password": "not the password"}),
    ]


def allowed_words(org, w: World) -> set[str]:
    """The catalogue's own Latin words, and the data's: codes, names, ids a page shows."""
    data = [org.name, org.timezone, w.shop.appid, w.batch.number, w.shop.push_key]
    data += [m.user.username for m in Member.objects.for_org(org).select_related("user")]
    data += list(Promoter.objects.for_org(org).values_list("code", flat=True))
    data += list(Promoter.objects.for_org(org).values_list("name", flat=True))
    data += list(Team.objects.for_org(org).values_list("name", flat=True))
    data += list(Statement.objects.for_org(org).values_list("number", flat=True))
    data += list(PayoutBatch.objects.for_org(org).values_list("number", flat=True))
    data += [f"{k.prefix} {k.name}" for k in ApiKey.objects.for_org(org)]
    # What pages show of secrets and viewers: the last four characters, a masked id's ends.
    data += [secret[-4:] for secret in (w.shop.token, w.shop.encoding_aes_key, w.shop.app_secret)]
    data += [mask_viewer(v) for v in Event.objects.for_org(org).values_list("viewer", flat=True)]
    data += [f"o-{code}" for code, _ in SALES] + ["o-other"]
    data += [w.settled.public_id, w.upcoming.public_id, w.other.public_id, "export/UzFfAgtgekIEAQAAAAAAb4MLive"]
    allowed = set(ALWAYS_ALLOWED) | catalogue_words()
    for value in data:
        allowed |= words(value)
    return allowed


def fen_amounts(org) -> set[int]:
    """The walk's amounts in fen that are distinctive (not a year, a count or a small sum)."""
    amounts = {amount for _, amount in SALES} | {REFUND, 76_543}
    for s in Statement.objects.for_org(org):
        amounts |= {abs(s.gross), abs(s.payable), abs(s.tax)}
    amounts |= set(PayoutBatch.objects.for_org(org).values_list("total", flat=True))
    return {a for a in amounts if a >= 10_000}


def sign_in(contexts, device, username):
    page = contexts.page(device, "zh-hans", BROWSER_ZONE)
    page.goto("/login/")
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码").fill(OPERATOR_PASSWORD)
    page.get_by_label("密码").press("Enter")
    page.wait_for_url(re.compile(r"/$"))
    return page


def visit(page, checks: Checks, name: str, url: str) -> str:
    response = page.goto(url)
    if response.status != 200:
        checks.fail(name, f"{url} answered {response.status}")
    page.wait_for_load_state("networkidle")
    look(page, f"walk-{name}")
    return checks.page(page, name)


def send_bad(page, checks: Checks, name: str, url: str, selector: str, values: dict) -> None:
    page.goto(url)
    form = page.locator(selector).first
    for field_name, value in values.items():
        target = form.locator(f'[name="{field_name}"], [name$="-{field_name}"]')
        if target.count() == 0:
            checks.fail(name, f"the form has no field {field_name!r}")
            continue
        if isinstance(value, bytes):
            target.set_input_files({"name": "results.csv", "mimeType": "text/csv", "buffer": value})
        else:
            target.evaluate("(el, v) => { el.value = v; }", value)
    button = form.locator('button[type="submit"], button:not([type])').last
    try:
        button.click(trial=True, timeout=3_000)
    except PlaywrightError:
        checks.fail(f"form {name}", "the submit button cannot be clicked: something covers it")
    with page.expect_navigation():
        button.evaluate("b => b.form.requestSubmit(b)")
    page.wait_for_load_state("load")
    look(page, f"walk-form-{name}")
    text = checks.page(page, f"form {name}")
    if not page.locator(".errors, .message.error, [role=alert]").count():
        checks.fail(f"form {name}", f"bad input showed no error: …{text[:200]}…")


@pytest.mark.parametrize("width", WIDTHS)
def test_walk_every_page(contexts, brand, width):
    started = datetime.now(timezone.utc)
    org = brand.org
    assert org.timezone == ZONE.key
    owner = add_member(org, "owner", Member.OWNER, password=OPERATOR_PASSWORD)
    w = build(brand, owner.user)
    audit_times = list(AuditEntry.objects.for_org(org).values_list("at", flat=True))
    checks = Checks(zone=ZONE, allowed=allowed_words(org, w), fen=fen_amounts(org),
                    instants=w.instants, started=min([started, *audit_times]))
    device = WIDTHS[width]

    desk = sign_in(contexts, device, "owner")
    texts = {}
    for name, url in pages(w).items():
        texts[name] = visit(desk, checks, f"{name}-{width}", url)
        if width == "1366" and name in FIT_AT_1366 and desk.evaluate(FITS_SCRIPT, FIT_AT_1366[name]):
            checks.fail(f"{name}-{width}", f"{FIT_AT_1366[name]} scrolls sideways on a desktop screen")
        if name in NAME_CELLS:
            selector, most = NAME_CELLS[name]
            cells = desk.evaluate(LINES_SCRIPT, selector)
            if not cells:
                checks.fail(f"{name}-{width}", f"no {selector} to check")
            for cell in cells:
                if cell["lines"] > most:
                    checks.fail(f"{name}-{width}", f"{cell['text']!r} takes {cell['lines']} lines")
    phone = contexts.page(device, "zh-hans", BROWSER_ZONE)
    for name, url in signed_out_pages(w).items():
        texts[name] = visit(phone, checks, f"{name}-{width}", url)

    # The known times are shown as the organisation's local time where they belong.
    expectations = {"live-settled": [checks.local(w.instants[0])], "lives": [checks.local(w.upcoming.announced_at)],
                    "live-upcoming": [checks.local(w.upcoming.announced_at)],
                    "invite": [checks.local(w.upcoming.announced_at)]}
    for name, shown in expectations.items():
        for clock in shown:
            if clock not in texts[name]:
                checks.fail(f"{name}-{width}", f"the local time {clock} ({ZONE.key}) is not shown")

    for name, url, selector, values in forms(w):
        send_bad(phone if url.startswith(("/join/", "/login/")) else desk, checks, f"{name}-{width}", url, selector, values)

    assert not checks.problems, f"{len(checks.problems)} problems at {width} px:\n" + "\n".join(checks.problems)
