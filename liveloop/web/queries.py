"""Reads the operator pages need beyond analytics.queries; every one scoped by organisation."""
from django.db.models import Count, IntegerField, OuterRef, Subquery, Sum, Value
from django.db.models.functions import Coalesce
from django.shortcuts import get_object_or_404

from liveloop.analytics.models import PromoterStats
from liveloop.lives.models import Live
from liveloop.promoters.models import Enrolment, Team
from liveloop.rules.attribution import CANCELLED, ENDED, LIVE, SCHEDULED


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
    return get_object_or_404(Live.objects.for_org(org).select_related("account", "stats"),
                             public_id=public_id)


def team_names(org) -> list[str]:
    return list(Team.objects.for_org(org).order_by("name").values_list("name", flat=True))
