import hashlib
import secrets
from decimal import Decimal

from django.conf import settings
from django.db import models
from django.utils.text import slugify


class TenantQuerySet(models.QuerySet):
    def for_org(self, org):
        return self.filter(org=org)


class TenantModel(models.Model):
    """Every tenant table carries org and is read through `objects.for_org(org)`."""
    # No index of its own: every tenant table's unique constraints and hot indexes start
    # with org, and a lone org index misleads PostgreSQL's planner on large tenants.
    org = models.ForeignKey("orgs.Organisation", on_delete=models.CASCADE, db_index=False)
    objects = TenantQuerySet.as_manager()

    class Meta:
        abstract = True


class Organisation(models.Model):
    BRAND, AGENCY = "brand", "agency"
    KINDS = [(BRAND, "brand"), (AGENCY, "agency")]

    slug = models.SlugField(max_length=64, unique=True)
    name = models.CharField(max_length=120)
    kind = models.CharField(max_length=8, choices=KINDS, default=BRAND)
    # An agency (服务商/MCN) owns its client brands; their members see only their own brand.
    agency = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT,
                               related_name="clients")
    timezone = models.CharField(max_length=64, default="Asia/Shanghai")
    # The planner (rules.forecast): public viewers WeChat matches to each reservation, in
    # basis points (10000 = 1:1), and the most public viewers a live is credited with.
    public_match_bps = models.PositiveIntegerField(default=10_000)
    public_match_cap = models.PositiveIntegerField(default=100_000)
    # Money (docs/decisions.md "Money: ledger and settlement"): a live can be settled this many
    # days after it ends (refunds arrive until then), and whether statements withhold
    # individual income tax on labour remuneration (劳务报酬) for the brand.
    refund_window_days = models.PositiveIntegerField(default=7)
    withhold_tax = models.BooleanField(default=False)
    # WeChat's 推客 counts against Liveloop's: a gap above this percentage (and at least
    # rules.reconcile.MIN_GAP people) is flagged on the live page (docs/decisions.md).
    reconcile_gap_pct = models.PositiveSmallIntegerField(default=20)
    # The most one promoter is paid in one payout batch, in fen (None: no ceiling): above it,
    # their statements are held out of the batch until finance releases them (money.payouts).
    payout_ceiling = models.BigIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self):
        return self.name

    @property
    def public_match_percent(self):
        # Basis points are whole hundredths of a percent: two places, exact.
        return (Decimal(self.public_match_bps) / 100).quantize(Decimal("0.01"))

    @staticmethod
    def unique_slug(name: str) -> str:
        base = slugify(name)[:40] or "org"
        slug, n = base, 1
        while Organisation.objects.filter(slug=slug).exists():
            n += 1
            slug = f"{base}-{n}"
        return slug


class Member(TenantModel):
    OWNER, OPERATOR, FINANCE, VIEWER = "owner", "operator", "finance", "viewer"
    ROLES = [(OWNER, "owner"), (OPERATOR, "operator"), (FINANCE, "finance"), (VIEWER, "viewer")]

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                             related_name="memberships")
    role = models.CharField(max_length=8, choices=ROLES)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["org", "user"], name="member_org_user")]


class ApiKey(TenantModel):
    """Keys are shown once; only a SHA-256 of the key is stored (keys are 256-bit random,
    so a slow hash adds nothing)."""
    name = models.CharField(max_length=80)
    prefix = models.CharField(max_length=12)
    digest = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    # Set when the key was rotated: it keeps working until then, so producers can switch.
    expires_at = models.DateTimeField(null=True, blank=True)
    rotated_to = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")

    @staticmethod
    def hash(key: str) -> str:
        return hashlib.sha256(key.encode()).hexdigest()

    @classmethod
    def issue(cls, org, name: str) -> tuple["ApiKey", str]:
        secret = secrets.token_urlsafe(32)
        key = f"ll_{secret}"
        return cls.objects.create(org=org, name=name, prefix=key[:10], digest=cls.hash(key)), key

    @classmethod
    def lookup(cls, key: str):
        from django.utils import timezone

        return (cls.objects.select_related("org")
                .filter(digest=cls.hash(key), revoked_at__isnull=True)
                .filter(models.Q(expires_at__isnull=True) | models.Q(expires_at__gt=timezone.now()))
                .first())

    @property
    def active(self) -> bool:
        from django.utils import timezone

        return self.revoked_at is None and (self.expires_at is None or self.expires_at > timezone.now())


class AuditEntry(TenantModel):
    """Who changed what (money, members, keys, settings). Append-only, like the event log."""
    at = models.DateTimeField(auto_now_add=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL,
                             related_name="+")
    actor = models.CharField(max_length=150)  # the username then, or "system"/"api:<key>"
    action = models.CharField(max_length=40)
    target = models.CharField(max_length=120, blank=True, default="")
    detail = models.JSONField(default=dict)

    class Meta:
        indexes = [models.Index(fields=["org", "at"], name="audit_org_at")]
