"""Reads for pages, API and exports: small derived tables only, never a scan of the log."""
from datetime import datetime

from django.core.exceptions import EmptyResultSet
from django.db import connections
from django.db.models import Case, Count, F, IntegerField, Sum, Value, When

from liveloop.analytics.figures import PROMOTER_FLAGS
from liveloop.analytics.models import LiveStats, PromoterStats
from liveloop.lib.numbers import percent
from liveloop.lives.models import Account, Live
from liveloop.promoters.models import search_match
from liveloop.rules.attribution import FIGURES

SORTABLE = (*FIGURES, "net", "code", "name", "team")
ROLLUP_FIGURES = (*FIGURES, "net")
# Flags on a promoter's row (rules.fraud), not figures: they do not add up across rows.
FLAGS = tuple(figure.key for figure in PROMOTER_FLAGS)


# The live's totals and its LiveStats row in one statement: the room asks for them every two
# seconds, and building two ORM queries cost more than running them. Written out once, scoped
# by organisation like every query; both engines read the same SQL.
_SUMMARY_SQL = (
    # CAST: PostgreSQL sums bigints as numeric, which psycopg would hand over as Decimal.
    "SELECT " + ", ".join(f'CAST(SUM("{name}") AS BIGINT)' for name in FIGURES) + ", "
    + ", ".join(f'(SELECT "{column}" FROM "analytics_livestats" WHERE "org_id" = %s AND "live_id" = %s)'
                for column in ("peak_online", "reservations_lapsed", "showed_up"))
    + ' FROM "analytics_promoterstats" WHERE "org_id" = %s AND "live_id" = %s')


def summary_and_showed_up(live) -> tuple[dict, int]:
    """live_summary(live) and LiveStats.showed_up, read together."""
    params = [live.org_id, live.pk] * 4
    with connections[PromoterStats.objects.db].cursor() as cursor:
        cursor.execute(_SUMMARY_SQL, params)
        row = cursor.fetchone()
    *totals, peak_online, lapsed, showed_up = row
    if peak_online is None:
        raise LiveStats.DoesNotExist("LiveStats matching query does not exist.")
    figures = dict(zip(FIGURES, (value or 0 for value in totals)))
    figures["net"] = figures["gmv"] - figures["refunded"]
    figures["peak_online"] = peak_online
    figures["reservations_lapsed"] = bool(lapsed)
    return figures, showed_up


def live_summary(live) -> dict:
    return summary_and_showed_up(live)[0]


# What the fast path selects, in this order; net is computed here, not by the database. Spelled
# out, not derived from FIGURES: _rows unpacks the tuples by these names, for speed.
_ROW_COLUMNS = ("promoter__code", "promoter__name", "promoter__team__name", "reservations", "entered",
                "buyers", "orders", "gmv", "refunded", "follows", "captures", "self_referrals",
                "suspect_reservations")


def _row(values: dict) -> dict:
    return {"promoter": values["promoter__code"], "name": values["promoter__name"],
            "team": values["promoter__team__name"],
            **{name: values[name] for name in ROLLUP_FIGURES},
            **{name: values[name] for name in FLAGS}}


def _rows(queryset) -> list[dict]:
    """The rows of a promoter_table queryset (sliced or not), built straight from the cursor.

    A page of the table or the API's whole list is up to 1,001 rows of 14 keys: Django's
    values() iteration and a dict per row through _row cost more than the query itself. The
    SQL is still the ORM's (filters, order, LIMIT), only the rows skip the ORM; every column is
    an integer or a text, which both engines hand over as Python needs them.
    """
    query = queryset.values_list(*_ROW_COLUMNS)
    try:
        sql, params = query.query.get_compiler(using=query.db).as_sql()
    except EmptyResultSet:  # a filter no row can meet (the ORM would not ask the database either)
        return []
    with connections[query.db].cursor() as cursor:
        cursor.execute(sql, params)
        fetched = cursor.fetchall()
    # A dict display, not dict(zip(...)): four times faster, and its key order is the API's.
    return [{"promoter": code, "name": name, "team": team, "reservations": reservations, "entered": entered,
             "buyers": buyers, "orders": orders, "gmv": gmv, "refunded": refunded, "follows": follows,
             "captures": captures, "net": gmv - refunded, "self_referrals": self_referrals,
             "suspect_reservations": suspect_reservations}
            for (code, name, team, reservations, entered, buyers, orders, gmv, refunded, follows, captures,
                 self_referrals, suspect_reservations) in fetched]


class PromoterTable:
    """The promoter rows of one live as a sliceable sequence: a Paginator reads count() and
    one page (LIMIT/OFFSET at the database), an export iterates them all."""

    def __init__(self, queryset):
        self.queryset = queryset

    def count(self) -> int:
        return self.queryset.count()

    def __len__(self) -> int:
        return self.count()

    def __getitem__(self, index):
        if isinstance(index, slice):
            return _rows(self.queryset[index])
        return _row(self.queryset[index])

    def __iter__(self):
        # At most the cap's 1,000 promoters and the unattributed row: one fetch, no server-side cursor.
        return iter(_rows(self.queryset))


# What a sort by a text column orders by: names and teams by their pinyin key (rules.pinyin),
# which SQL can sort and a page can LIMIT/OFFSET; the name itself breaks a tie of homophones.
_TEXT_ORDER = {"code": ("promoter__code",),
               "name": ("promoter__name_pinyin", "promoter__name"),
               "team": ("promoter__team__name_pinyin", "promoter__team__name")}


def promoter_table(live, sort: str = "-reservations", team: str | None = None,
                   search: str | None = None, organic: bool = True) -> PromoterTable:
    """Promoters of the live plus the unattributed row (promoter None), which comes first.

    `search` keeps promoters whose code or name contains it (any case) or whose phone is
    exactly it (promoters.models.search_match); like a team filter it
    leaves the unattributed row out, since that row has neither. `organic=False` leaves it
    out too: the live page shows it apart and counts promoters only (organic_row).
    """
    field = sort.lstrip("-")
    if field not in SORTABLE:
        raise ValueError(f"sort: one of {', '.join(SORTABLE)} (prefix - for descending)")
    descending = sort.startswith("-")
    order = [f"-{name}" if descending else name for name in _TEXT_ORDER.get(field, (field,))]
    qs = (PromoterStats.objects.for_org(live.org).filter(live=live)
          .annotate(net=F("gmv") - F("refunded"),
                    attributed=Case(When(promoter__isnull=True, then=Value(0)), default=Value(1),
                                    output_field=IntegerField()))
          .values("promoter_id", "promoter__code", "promoter__name", "promoter__team__name",
                  "net", *FIGURES, *FLAGS))
    if team:
        qs = qs.filter(promoter__team__name=team)
    if search:
        qs = qs.filter(search_match(live.org, search, "promoter__"))
    if not organic:
        qs = qs.filter(promoter__isnull=False)
    qs = qs.order_by("attributed", *order, "promoter__code")
    return PromoterTable(qs)


def organic_row(live) -> dict | None:
    """The unattributed row alone (events with no promoter), None before the live has one."""
    rows = _rows(PromoterStats.objects.for_org(live.org).filter(live=live, promoter__isnull=True)
                 .annotate(net=F("gmv") - F("refunded")))
    return rows[0] if rows else None


def promoter_rows(live, sort: str = "-reservations", team: str | None = None,
                  search: str | None = None) -> list[dict]:
    """One dict per promoter of the live, plus the unattributed row (promoter None) first."""
    # One query: list(PromoterTable) would ask for its length first, a COUNT for nothing.
    return _rows(promoter_table(live, sort=sort, team=team, search=search).queryset)


def _sums(rows: dict) -> dict:
    figures = {name: rows.get(name) or 0 for name in FIGURES}
    figures["net"] = figures["gmv"] - figures["refunded"]
    return figures


def team_rollup(live) -> dict:
    """The live's figures by team/store: {"teams": [...], "no_team": row|None, "unattributed": row}.

    Each team row has team, region, promoters (enrolled) and every figure plus net. Promoters
    without a team are their own row; the unattributed row (natural traffic) is kept apart, so
    teams + no_team + unattributed add up to live_summary.
    """
    stats = PromoterStats.objects.for_org(live.org).filter(live=live)
    sums = {name: Sum(name) for name in FIGURES}
    grouped = (stats.filter(promoter__isnull=False)
               .values("promoter__team_id", "promoter__team__name", "promoter__team__region",
                       "promoter__team__name_pinyin")
               .annotate(promoters=Count("pk"), **sums)
               .order_by("promoter__team__name_pinyin", "promoter__team__name"))
    teams, no_team, pinyin = [], None, {}
    for values in grouped:
        row = {"team": values["promoter__team__name"], "region": values["promoter__team__region"] or "",
               "promoters": values["promoters"], **_sums(values)}
        if values["promoter__team_id"] is None:
            no_team = row
        else:
            teams.append(row)
            pinyin[row["team"]] = values["promoter__team__name_pinyin"]
    # Ties (teams that sold nothing yet, before a live) read in pinyin order, as the page's lists do.
    teams.sort(key=lambda row: (-row["net"], -row["reservations"], pinyin[row["team"]], row["team"]))
    unattributed = _sums(stats.filter(promoter__isnull=True).aggregate(**sums))
    return {"teams": teams, "no_team": no_team, "unattributed": unattributed}


def account_rollup(org, since: datetime | None = None, until: datetime | None = None) -> list[dict]:
    """Per broadcasting account: its lives (announced in [since, until) when given) and the sum
    of their figures. Accounts without a live in the range are listed with zeros."""
    lives = Live.objects.for_org(org)
    if since is not None:
        lives = lives.filter(announced_at__gte=since)
    if until is not None:
        lives = lives.filter(announced_at__lt=until)
    counts = dict(lives.order_by().values("account").annotate(n=Count("pk")).values_list("account", "n"))
    figures = {values["live__account"]: values for values in
               PromoterStats.objects.for_org(org).filter(live__in=lives.values("pk"))
               .order_by().values("live__account").annotate(**{name: Sum(name) for name in FIGURES})}
    rows = [{"account": account, "name": account.name, "lives": counts.get(account.pk, 0),
             **_sums(figures.get(account.pk, {}))}
            for account in Account.objects.for_org(org).order_by("name")]
    rows.sort(key=lambda row: (-row["net"], -row["lives"], row["name"]))
    return rows


rate = percent  # part / whole as a percentage to one decimal (half up); None when whole is zero


def funnel(summary: dict) -> list[dict]:
    """Reservations → entered → buyers, each step with its rate from the step before.

    Entered can pass reservations (public traffic enters without reserving), so a step rate
    above 100% is a fact, not an error.
    """
    steps, previous = [], None
    for key in ("reservations", "entered", "buyers"):
        value = summary[key]
        steps.append({"key": key, "value": value,
                      "rate": None if previous is None else rate(value, previous)})
        previous = value
    return steps
