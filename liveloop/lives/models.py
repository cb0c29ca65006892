import secrets

from django.db import models

from liveloop.orgs.models import TenantModel
from liveloop.rules import attribution


def new_public_id() -> str:
    # Unambiguous lowercase letters and digits; 'L' + 8 chars ≈ 41 bits, checked for collisions.
    alphabet = "23456789abcdefghjkmnpqrstuvwxyz"
    return "L" + "".join(secrets.choice(alphabet) for _ in range(8))


class Account(TenantModel):
    """A broadcasting account (视频号); a matrix brand has several."""
    name = models.CharField(max_length=80)
    channels_id = models.CharField(max_length=64, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["org", "name"], name="account_org_name")]

    def __str__(self):
        return self.name


class Live(TenantModel):
    STATES = [(s, s) for s in (attribution.SCHEDULED, attribution.LIVE, attribution.ENDED,
                               attribution.CANCELLED)]

    # Globally unique so an event naming it can only ever mean this live.
    public_id = models.CharField(max_length=32, unique=True, default=new_public_id)
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="lives")
    title = models.CharField(max_length=120)
    announced_at = models.DateTimeField()
    # The platform's own preview (直播预告) link that viewers reserve on; the invite page hands
    # them on to it after recording which promoter brought them.
    preview_url = models.URLField(max_length=500, blank=True, default="")
    # State changes are facts in the event log (live_started…); these columns mirror them.
    state = models.CharField(max_length=10, choices=STATES, default=attribution.SCHEDULED)
    started_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["org", "announced_at"], name="live_org_announced")]

    def __str__(self):
        return self.title
