from django.db import models

from liveloop.orgs.models import TenantModel


class Figures(TenantModel):
    """The figures of docs/events.md "Counting" (rules.attribution.FIGURES), as columns."""
    reservations = models.BigIntegerField(default=0)
    entered = models.BigIntegerField(default=0)
    buyers = models.BigIntegerField(default=0)
    orders = models.BigIntegerField(default=0)
    gmv = models.BigIntegerField(default=0)
    refunded = models.BigIntegerField(default=0)
    follows = models.BigIntegerField(default=0)
    captures = models.BigIntegerField(default=0)

    class Meta:
        abstract = True


class PromoterStats(Figures):
    """Derived: the figures of docs/events.md "Counting" per live × promoter.

    promoter NULL is the live's unattributed row (natural/public traffic). Rows exist from
    the moment a live is created (unattributed) or a promoter enrols, so ingest only adds.
    """
    live = models.ForeignKey("lives.Live", on_delete=models.CASCADE, related_name="+")
    promoter = models.ForeignKey("promoters.Promoter", null=True, on_delete=models.CASCADE,
                                 related_name="+")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["org", "live", "promoter"], name="pstats_org_live_promoter"),
            models.UniqueConstraint(fields=["org", "live"], condition=models.Q(promoter__isnull=True),
                                    name="pstats_org_live_unattributed"),
        ]


class LiveStats(TenantModel):
    """Derived: figures that belong to the live as a whole, not to any promoter."""
    live = models.OneToOneField("lives.Live", on_delete=models.CASCADE, related_name="stats")
    peak_online = models.BigIntegerField(default=0)
    # Went live more than an hour after the announced time: reservations lapsed (kept, flagged).
    reservations_lapsed = models.BooleanField(default=False)
    # Viewers holding a reservation when they first entered the room.
    showed_up = models.BigIntegerField(default=0)


class LiveMinute(Figures):
    """Derived: the same figure changes as PromoterStats, bucketed by the minute of the event's
    `at` (UTC). Charts and the real-time view read these rows, never the log. Reservations are
    the net change in that minute; a live's cancellation reset is not a flow and is not here."""
    live = models.ForeignKey("lives.Live", on_delete=models.CASCADE, related_name="+")
    minute = models.DateTimeField()
    # The room's traffic (rules.attribution.TRAFFIC): every entry and exit, the highest online sample.
    room_enters = models.BigIntegerField(default=0)
    room_leaves = models.BigIntegerField(default=0)
    online_peak = models.BigIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["org", "live", "minute"],
                                               name="liveminute_org_live_minute")]
