"""Reads the operator pages need beyond analytics.queries; every one scoped by organisation."""
import calendar
import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.db.models import Count, F, IntegerField, OuterRef, Q, Subquery, Sum, Value
from django.db.models.functions import Coalesce, Replace
from django.shortcuts import get_object_or_404
from django.utils import timezone

from liveloop.analytics.models import PromoterStats
from liveloop.events.models import LiveViewer
from liveloop.lives.models import Live
from liveloop.notify.models import Notice
from liveloop.orgs.models import ApiKey, Member
from liveloop.money.models import Entry, Statement
from liveloop.promoters.models import Enrolment, JoinCode, Programme, Promoter, Team, mask_phone, search_match
from liveloop.rules.attribution import CANCELLED, ENDED, FIGURES, LIVE, SCHEDULED
from liveloop.rules.dates import day_in_range


def _per_live(rows, group: str, aggregate):
    # One correlated subquery per figure: joining both tables at once would multiply the rows.
    figure = (rows.filter(**{group: OuterRef("pk")}).order_by().values(group)
              .annotate(value=aggregate).values("value"))
    return Coalesce(Subquery(figure, output_field=IntegerField()), Value(0))


def lives_overview(org):
    """(upcoming, recent): on air then scheduled lives, soonest first; ended and cancelled ones,
    latest first. Each live carries `promoters` (enrolled) and `reservations` (held now)."""
    lives = (Live.objects.for_org(org).select_related("account", "stats")
             .annotate(reservations=_per_live(PromoterStats.objects.for_org(org), "live",
                                              Sum("reservations")),
                       promoters=_per_live(Enrolment.objects.for_org(org), "programme__live",
                                           Count("pk"))))
    upcoming = sorted(lives.filter(state__in=(LIVE, SCHEDULED)).order_by("announced_at", "pk"),
                      key=lambda live: live.state != LIVE)  # stable: keeps the time order within
    recent = lives.filter(state__in=(ENDED, CANCELLED)).order_by("-announced_at", "-pk")
    return upcoming, recent


def live_of(org, public_id: str) -> Live:
    """The organisation's live, or 404 — also for another organisation's id."""
    return get_object_or_404(Live.objects.for_org(org).select_related("account", "stats", "programme"),
                             public_id=public_id)


def team_names(org) -> list[str]:
    return list(Team.objects.for_org(org).order_by("name_pinyin", "name").values_list("name", flat=True))


def reservers(live) -> int:
    """Viewers holding a reservation now: the people a cancellation would notify."""
    return LiveViewer.objects.for_org(live.org).filter(live=live, reserved=True).count()


def notices_queued(live) -> int:
    return Notice.objects.for_org(live.org).filter(live=live, kind=Notice.LIVE_CANCELLED).count()


# The calendar

@dataclass
class Day:
    date: date
    in_month: bool
    today: bool
    lives: list = field(default_factory=list)


@dataclass
class Month:
    first: date
    weeks: list[list[Day]]

    @property
    def previous(self) -> str:
        return (self.first - timedelta(days=1)).strftime("%Y-%m")

    @property
    def next(self) -> str:
        return (self.first + timedelta(days=31)).replace(day=1).strftime("%Y-%m")


def parse_month(raw: str | None, today: date) -> date:
    """"2026-11" → date(2026, 11, 1); anything else (or a year far off) → this month."""
    try:
        year, month = (int(part) for part in (raw or "").split("-"))
        first = date(year, month, 1)
        if day_in_range(first):  # keeps the grid and its prev/next links inside what dates can hold
            return first
    except (ValueError, OverflowError):  # date(99999999999, 1, 1) overflows rather than refuses
        pass
    return today.replace(day=1)


def month_calendar(org, raw_month: str | None) -> Month:
    """The weeks (Monday first) around a month with each day's lives, in the organisation's zone."""
    zone = ZoneInfo(org.timezone)
    today = timezone.localtime(timezone.now(), zone).date()
    first = parse_month(raw_month, today)
    weeks = calendar.Calendar(firstweekday=0).monthdatescalendar(first.year, first.month)
    start = datetime.combine(weeks[0][0], time(), tzinfo=zone)
    end = datetime.combine(weeks[-1][-1] + timedelta(days=1), time(), tzinfo=zone)
    by_day = defaultdict(list)
    for live in (Live.objects.for_org(org).select_related("account")
                 .filter(announced_at__gte=start, announced_at__lt=end).order_by("announced_at", "pk")):
        by_day[timezone.localtime(live.announced_at, zone).date()].append(live)
    return Month(first, [[Day(day, day.month == first.month, day == today, by_day[day]) for day in week]
                         for week in weeks])


# The programme page

def programme_of(org, public_id: str) -> Programme:
    return get_object_or_404(Programme.objects.for_org(org).select_related("live", "live__account"),
                             live__public_id=public_id)


def enrolment_counts(programme) -> dict:
    return programme.enrolments.aggregate(enrolled=Count("pk"), disabled=Count("pk", filter=Q(active=False)))


def enrolments(programme, search: str | None = None):
    qs = (Enrolment.objects.for_org(programme.org).filter(programme=programme)
          .select_related("promoter", "promoter__team").order_by("promoter__name_pinyin", "promoter__name", "promoter__code"))
    if search:
        qs = qs.filter(search_match(programme.org, search, "promoter__"))
    return qs


def enrolment_of(programme, code: str) -> Enrolment:
    return get_object_or_404(Enrolment.objects.for_org(programme.org).select_related("promoter", "promoter__team"),
                             programme=programme, promoter__code=code)


def invite_codes(programme):
    return (JoinCode.objects.for_org(programme.org).filter(programme=programme, single_use=True)
            .select_related("used_by").order_by("-created_at", "-pk"))


def invite_code_of(programme, pk: int) -> JoinCode:
    return get_object_or_404(invite_codes(programme), pk=pk)


# The promoter directory and a promoter's page (issue 19, item 7)

# A name's pinyin key without its padding and tones (rules.pinyin: "zhang01san0001" →
# "zhangsan"), so "zhangsan" or "zhang" typed in the search finds 张三.
_PINYIN_LETTERS = F("name_pinyin")
for _digit in "012345":
    _PINYIN_LETTERS = Replace(_PINYIN_LETTERS, Value(_digit), Value(""))
_LATIN = re.compile(r"[A-Za-z ]+")

# The directory's sorts (tables.DIRECTORY_COLUMNS): names and stores in pinyin order.
_DIRECTORY_ORDER = {"name": ("name_pinyin", "name"), "code": ("code",),
                    "team": ("team__name_pinyin", "team__name")}


def _promoter_search(org, text: str) -> Q:
    """search_match (code, name, phone, last four digits) and the store's name; Latin letters
    also match the name's pinyin."""
    q = search_match(org, text) | Q(team__name__icontains=text)
    if _LATIN.fullmatch(text):
        q |= Q(pinyin_letters__contains=text.replace(" ", "").lower())
    return q


def _directory_figures() -> dict:
    """Each figure of the directory: (rows, their aggregate per promoter). The figures of the
    live pages summed over the person's lives (PromoterStats), the lives they joined, and the
    commission on their statements: settled (approved, or a failed payment to retry, as
    ledger.balances counts them) and paid.

    Not filtered by organisation here: they are only ever read for promoters of one (correlated
    to promoter_directory's rows, or by the ids of a page of them), and with org_id beside the
    promoter SQLite walks the (org, programme, promoter) unique index over every enrolment of
    the organisation for each promoter, not the promoter_id index (0.5 s at 3,000 enrolments)."""
    stats = PromoterStats.objects.order_by()
    statements = Statement.objects.order_by()
    return {
        "lives": (Enrolment.objects.order_by(), Count("pk")),
        **{name: (stats, Sum(name)) for name in ("reservations", "entered", "orders", "gmv")},
        "commission_settled": (statements.filter(state__in=(Statement.SETTLED, Statement.FAILED)), Sum("payable")),
        "commission_paid": (statements.filter(state=Statement.PAID), Sum("payable")),
    }


def promoter_directory(org, search: str | None = None, sort: str = "name"):
    """Every promoter of the organisation, one row per person whatever the lives they joined,
    in the order asked. Sorted by a figure, that figure is a correlated subquery (the database
    sorts); the figures shown are read for the page's rows only (directory_rows), so a page by
    name costs the same at 100 or 100,000 promoters."""
    # Only what the row shows: every sealed column loaded is a decryption (bank_account too).
    qs = Promoter.objects.for_org(org).only("pk", "code", "name", "phone").annotate(team_name=F("team__name"))
    field = sort.removeprefix("-")
    figures = _directory_figures()
    if field in figures:
        rows, aggregate = figures[field]
        qs = qs.annotate(**{field: _per_live(rows, "promoter", aggregate)})
    if search:
        qs = qs.annotate(pinyin_letters=_PINYIN_LETTERS).filter(_promoter_search(org, search))
    order = _DIRECTORY_ORDER.get(field, (field,))
    if sort.startswith("-"):
        order = tuple(f"-{name}" for name in order)
    return qs.order_by(*order, "code")


def directory_rows(page) -> list[dict]:
    """A page of promoter_directory as the table's rows: each figure one grouped query over the
    page's promoters (all of one organisation); the phone masked (decrypted for these rows only)."""
    people = list(page)
    ids = [p.pk for p in people]
    values = {name: dict(rows.filter(promoter_id__in=ids).values("promoter_id")
                         .annotate(value=aggregate).values_list("promoter_id", "value"))
              for name, (rows, aggregate) in _directory_figures().items()}
    return [{"code": p.code, "name": p.name, "phone": mask_phone(p.phone), "team": p.team_name,
             **{name: by_promoter.get(p.pk) or 0 for name, by_promoter in values.items()}}
            for p in people]


def promoter_enrolments(promoter):
    """The lives a promoter joined, latest first."""
    return (Enrolment.objects.for_org(promoter.org_id).filter(promoter=promoter)
            .select_related("programme__live__account")
            .order_by("-programme__live__announced_at", "-pk"))


def promoter_live_rows(promoter, enrolments) -> list[dict]:
    """For each enrolment (a page of promoter_enrolments): the live, the promoter's figures in
    it (the live page's row for them), the commission the ledger holds for it and its statement."""
    org_id = promoter.org_id
    live_ids = [e.programme.live_id for e in enrolments]
    figures = {row["live_id"]: row for row in PromoterStats.objects.for_org(org_id)
               .filter(promoter=promoter, live_id__in=live_ids).values("live_id", *FIGURES)}
    held = dict(Entry.objects.for_org(org_id).filter(promoter=promoter, live_id__in=live_ids)
                .order_by().values("live_id").annotate(total=Sum("amount")).values_list("live_id", "total"))
    statements = {s.run.live_id: s for s in Statement.objects.for_org(org_id)
                  .filter(promoter=promoter, run__live_id__in=live_ids).select_related("run")}
    rows = []
    for enrolment in enrolments:
        live_id = enrolment.programme.live_id
        row = figures.get(live_id) or dict.fromkeys(FIGURES, 0)
        rows.append({"enrolment": enrolment, "live": enrolment.programme.live,
                     **{name: row[name] for name in FIGURES}, "net": row["gmv"] - row["refunded"],
                     "commission": held.get(live_id, 0), "statement": statements.get(live_id)})
    return rows


# Settings

def members(org):
    return Member.objects.for_org(org).select_related("user").order_by("user__username")


def member_of(org, pk: int) -> Member:
    return get_object_or_404(members(org), pk=pk)


def api_keys(org):
    return ApiKey.objects.for_org(org).order_by("-created_at", "-pk")


def api_key_of(org, pk: int) -> ApiKey:
    return get_object_or_404(api_keys(org), pk=pk)


def confirmed_reservations(live) -> dict | None:
    """The live's reservations confirmed on Channels per promoter (integrations.wechat.miniprogram),
    most first; None when there are none."""
    from liveloop.integrations.wechat.miniprogram import confirmed_by_promoter

    counts = confirmed_by_promoter(live)
    if not counts:
        return None
    named = {p.pk: p for p in Promoter.objects.for_org(live.org).filter(pk__in=[k for k in counts if k])}
    rows = sorted(({"promoter": named.get(k), "count": n} for k, n in counts.items()),
                  key=lambda row: (-row["count"], row["promoter"].code if row["promoter"] else "~"))
    return {"rows": rows, "total": sum(counts.values())}
