from django.db import models
from django.utils import timezone

from liveloop.at_rest import EncryptedTextField
from liveloop.orgs.models import TenantModel


class Notice(TenantModel):
    """The outbox: a message owed to someone, written in the same transaction as the fact that
    owes it. The worker claims queued rows and delivers them through the organisation's
    channels; the unique key makes a notice for the same reason to the same person impossible
    to queue twice."""
    LIVE_REMINDER, LIVE_CANCELLED, PROMOTER_SUMMARY = "live_reminder", "live_cancelled", "promoter_summary"
    PROOF_CODE = "proof_code"  # a promoter's one-time code (actions.proof)
    KINDS = [(LIVE_REMINDER, "live reminder"), (LIVE_CANCELLED, "live cancelled"),
             (PROMOTER_SUMMARY, "promoter summary"), (PROOF_CODE, "proof code")]
    VIEWER, PROMOTER = "viewer", "promoter"
    RECIPIENT_KINDS = [(VIEWER, "viewer"), (PROMOTER, "promoter")]
    QUEUED, SENDING, SENT, DEAD = "queued", "sending", "sent", "dead"
    # A reminder not sent before its live ended or its hour passed (notify.queue.reminder_expiry):
    # never sent, and not a failure either.
    EXPIRED = "expired"
    STATES = [(QUEUED, "queued"), (SENDING, "sending"), (SENT, "sent"), (DEAD, "dead"), (EXPIRED, "expired")]

    kind = models.CharField(max_length=24, choices=KINDS)
    live = models.ForeignKey("lives.Live", on_delete=models.CASCADE, related_name="+")
    recipient = models.CharField(max_length=128,
                                 help_text="the viewer id (openid…) or the promoter's code")
    recipient_kind = models.CharField(max_length=8, choices=RECIPIENT_KINDS, default=VIEWER)
    # Fixed when queued: a retry days later says what was true when the notice was owed.
    payload = models.JSONField(default=dict, blank=True)
    state = models.CharField(max_length=8, choices=STATES, default=QUEUED)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    claimed_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True, default="")
    # Channel ids that already accepted this notice: a retry after a partial failure goes
    # only to the channels that did not, so nobody gets it twice through the same channel.
    delivered_to = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["org", "kind", "live", "recipient"],
                                               name="notice_org_kind_live_recipient")]
        indexes = [models.Index(fields=["org", "state"], condition=models.Q(state="queued"),
                                name="notice_queued"),
                   # The worker's scan crosses organisations: due rows first.
                   models.Index(fields=["next_attempt_at"], condition=models.Q(state="queued"),
                                name="notice_due")]


class Channel(TenantModel):
    """Where an organisation's notices go out. Every enabled channel gets every notice it can
    deliver: the webhook everything (the brand's system fans out), WeCom only people with a
    WeCom user id."""
    WEBHOOK, WECOM = "webhook", "wecom"
    KINDS = [(WEBHOOK, "webhook"), (WECOM, "WeCom application message")]

    kind = models.CharField(max_length=8, choices=KINDS)
    name = models.CharField(max_length=80)
    url = models.URLField(max_length=500, blank=True, default="")
    # Secrets and the WeCom token are encrypted at rest (liveloop/at_rest.py).
    secret = EncryptedTextField(max_length=128, blank=True, default="",
                                help_text="the webhook's HMAC-SHA256 signing secret")
    corp_id = models.CharField(max_length=64, blank=True, default="")
    agent_id = models.CharField(max_length=32, blank=True, default="")
    corp_secret = EncryptedTextField(max_length=128, blank=True, default="")
    # WeCom's corp access token lives about 2 hours; kept here so every worker process shares it.
    access_token = EncryptedTextField(max_length=512, blank=True, default="")
    token_expires_at = models.DateTimeField(null=True, blank=True)
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self):
        return self.name
