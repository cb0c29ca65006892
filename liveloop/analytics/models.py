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
    # Flags on the row, not figures (rules.fraud): how many of its reservations were made by the
    # promoter's own ids (held now), and how many came in a burst from one device or network.
    self_referrals = models.BigIntegerField(default=0)
    suspect_reservations = models.BigIntegerField(default=0)

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


class AudienceStats(TenantModel):
    """Derived: the room's figures of one live by the value of one viewer dimension
    (rules.audience: touchpoint, share scene, gender, city tier, region, age band; "" is
    unknown). For each dimension the rows of a live add up to its totals."""
    live = models.ForeignKey("lives.Live", on_delete=models.CASCADE, related_name="+")
    dimension = models.CharField(max_length=16)
    value = models.CharField(max_length=32)
    entered = models.BigIntegerField(default=0)
    buyers = models.BigIntegerField(default=0)
    orders = models.BigIntegerField(default=0)
    gmv = models.BigIntegerField(default=0)
    refunded = models.BigIntegerField(default=0)
    follows = models.BigIntegerField(default=0)
    captures = models.BigIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["org", "live", "dimension", "value"],
                                               name="audiencestats_org_live_dim_value")]


class LiveAudience(TenantModel):
    """Derived: one live's watch time and flywheel (rules.audience.LIVE_FIGURES). Stays still
    open are kept as their count and the sum of their starts, closed at the live's end when
    read; a row appears with the live's first room-side event."""
    live = models.ForeignKey("lives.Live", on_delete=models.CASCADE, related_name="+")
    watch_seconds = models.BigIntegerField(default=0)
    open_stays = models.BigIntegerField(default=0)
    open_since_sum = models.BigIntegerField(default=0)  # epoch seconds
    public_captures = models.BigIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["org", "live"], name="liveaudience_org_live")]


class AudienceViewer(TenantModel):
    """Derived: what the audience figures remember of one viewer in one live (rules.audience.
    Profile): the dimension values, how they first entered, an open stay. Only viewers with a
    room-side event have a row (a reservation alone makes none)."""
    live = models.ForeignKey("lives.Live", on_delete=models.CASCADE, related_name="+")
    viewer = models.CharField(max_length=128)
    touchpoint = models.CharField(max_length=32, null=True)
    share_scene = models.CharField(max_length=32, null=True)
    gender = models.CharField(max_length=32, null=True)
    city_tier = models.CharField(max_length=32, null=True)
    region = models.CharField(max_length=32, null=True)
    age_band = models.CharField(max_length=32, null=True)
    public = models.BooleanField(null=True)
    public_captured = models.BooleanField(default=False)
    open_since = models.DateTimeField(null=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["org", "live", "viewer"],
                                               name="audienceviewer_org_live_viewer")]
        # The report closes stays still open at the live's end; those that began after it
        # are looked up by this index (usually none).
        indexes = [models.Index(fields=["org", "live", "open_since"], name="audienceviewer_open")]


class ReservationSignal(TenantModel):
    """Derived: a counted reservation credited to a promoter that carried device or network
    keys (rules.fraud.FarmWatch), one per live × promoter × viewer, and whether it is suspect.
    Ingest reads the rows near its batch's reservations to find bursts across batches."""
    live = models.ForeignKey("lives.Live", on_delete=models.CASCADE, related_name="+")
    promoter = models.ForeignKey("promoters.Promoter", on_delete=models.CASCADE, related_name="+")
    viewer = models.CharField(max_length=128)
    at = models.DateTimeField()
    device = models.CharField(max_length=64, null=True)
    net = models.CharField(max_length=64, null=True)
    suspect = models.BooleanField(default=False)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["org", "live", "promoter", "viewer"],
                                               name="rsignal_org_live_promoter_viewer")]
        indexes = [models.Index(fields=["org", "live", "device", "at"], name="rsignal_device"),
                   models.Index(fields=["org", "live", "net", "at"], name="rsignal_net"),
                   models.Index(fields=["org", "live", "viewer"], name="rsignal_viewer")]
