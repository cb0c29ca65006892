from django.db import models

from liveloop.orgs.models import TenantModel


class Notice(TenantModel):
    """The outbox: a message owed to someone, written in the same transaction as the fact that
    owes it. Delivery channels (webhook, WeCom) claim queued rows; the unique key makes a
    notice for the same reason to the same person impossible to queue twice."""
    LIVE_CANCELLED = "live_cancelled"
    KINDS = [(LIVE_CANCELLED, "live cancelled")]
    QUEUED, SENT, DEAD = "queued", "sent", "dead"
    STATES = [(QUEUED, "queued"), (SENT, "sent"), (DEAD, "dead")]

    kind = models.CharField(max_length=24, choices=KINDS)
    live = models.ForeignKey("lives.Live", on_delete=models.CASCADE, related_name="+")
    recipient = models.CharField(max_length=128, help_text="the viewer id (openid…) to notify")
    state = models.CharField(max_length=8, choices=STATES, default=QUEUED)
    attempts = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["org", "kind", "live", "recipient"],
                                               name="notice_org_kind_live_recipient")]
        indexes = [models.Index(fields=["org", "state"], condition=models.Q(state="queued"),
                                name="notice_queued")]
