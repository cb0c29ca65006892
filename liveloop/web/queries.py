"""Reads the operator pages need beyond analytics.queries; every one scoped by organisation."""
import calendar
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.db.models import Count, IntegerField, OuterRef, Q, Subquery, Sum, Value
from django.db.models.functions import Coalesce
from django.shortcuts import get_object_or_404
from django.utils import timezone

from liveloop.analytics.models import PromoterStats
from liveloop.events.models import LiveViewer
from liveloop.lives.models import Live
from liveloop.notify.models import Notice
from liveloop.orgs.models import ApiKey, Member
from liveloop.promoters.models import Enrolment, JoinCode, Programme, Promoter, Team, search_match
from liveloop.rules.attribution import CANCELLED, ENDED, LIVE, SCHEDULED
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
