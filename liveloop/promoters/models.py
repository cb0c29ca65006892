import re
import secrets

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from liveloop.at_rest import EncryptedTextField, KeyedHashField
from liveloop.orgs.models import TenantModel
from liveloop.rules import attribution
from liveloop.rules.phones import canonical_phone
from liveloop.rules.pinyin import KEY_LENGTH, pinyin_key

DEFAULT_CAP = 1000


def new_code() -> str:
    alphabet = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"
    return "P" + "".join(secrets.choice(alphabet) for _ in range(6))


def mask_phone(phone: str) -> str:
    """138****5678: enough for an operator to tell people apart, not to call them."""
    if len(phone) >= 7:
        return phone[:3] + "*" * (len(phone) - 7) + phone[-4:]
    return "*" * len(phone)


def mask_account(account: str) -> str:
    """**** 1234: the last four digits, as a bank card is shown on a receipt."""
    if not account:
        return ""
    return "**** " + account[-4:] if len(account) > 4 else "****"


def mask_id_number(number: str) -> str:
    """1101**********1234: the region's first four and the last four, as receipts show an ID."""
    if len(number) <= 8:
        return "*" * len(number)
    return number[:4] + "*" * (len(number) - 8) + number[-4:]


def mask_name(name: str) -> str:
    """张*三 / 张*: the family name and, for three or more characters, the last one."""
    if len(name) <= 1:
        return name
    return name[0] + "*" * (len(name) - 2 if len(name) > 2 else 1) + (name[-1] if len(name) > 2 else "")


def phone_match(org, phone: str, prefix: str = "") -> models.Q:
    """The promoters of `org` whose phone is exactly `phone`, found by its keyed hash (the
    phone itself is stored sealed). `prefix` for a lookup through a relation ("promoter__")."""
    org_id = org if isinstance(org, int) else org.pk
    return models.Q(**{f"{prefix}phone_hash__in": Promoter._meta.get_field("phone_hash").candidates(org_id, phone)})


# What people type for "the phone ending in 5678": 5678, …5678, ***5678, 尾号5678.
PHONE_TAIL = re.compile(r"(?:尾号|\*+|…+|\.{3})?\s*(\d{4})")


def phone_tail_match(org, digits: str, prefix: str = "") -> models.Q:
    """The promoters of `org` whose phone ends in these four digits, by the keyed hash of the
    last four (phone_tail_hash): nothing is decrypted to find them."""
    org_id = org if isinstance(org, int) else org.pk
    field = Promoter._meta.get_field("phone_tail_hash")
    return models.Q(**{f"{prefix}phone_tail_hash__in": field.candidates(org_id, digits)})


def search_match(org, text: str, prefix: str = "") -> models.Q:
    """A promoter search: code or name containing `text`, a phone equal to it (a phone is
    sealed, so only the exact number is found, through its hash; spaces, dashes and +86 as
    people type them are tolerated), or a phone ending in it when it is four digits."""
    q = models.Q(**{f"{prefix}code__icontains": text}) | models.Q(**{f"{prefix}name__icontains": text})
    for phone in {text, canonical_phone(text)} - {""}:
        q |= phone_match(org, phone, prefix)
    tail = PHONE_TAIL.fullmatch(text.strip())
    if tail:
        q |= phone_tail_match(org, tail.group(1), prefix)
    return q


def _keep_pinyin(instance, kwargs) -> None:
    """name_pinyin follows name on every save (rules.pinyin: the database sorts by it)."""
    instance.name_pinyin = pinyin_key(instance.name)
    update_fields = kwargs.get("update_fields")
    if update_fields is not None and "name" in update_fields:
        kwargs["update_fields"] = {*update_fields, "name_pinyin"}


class Team(TenantModel):
    """A store (门店) or team; promoters belong to one, reports roll up by it."""
    name = models.CharField(max_length=80)
    # The name's pinyin sort key, kept by save(): lists of teams are in pinyin order.
    name_pinyin = models.CharField(max_length=KEY_LENGTH, blank=True, default="", editable=False)
    region = models.CharField(max_length=40, blank=True, default="")
    # Team overrides (rules.commission): the leader is paid on the team's net (level 1) and,
    # when the plan has a second level, on each team directly below (level 2).
    leader = models.ForeignKey("Promoter", null=True, blank=True, on_delete=models.SET_NULL,
                               related_name="led_teams")
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL,
                               related_name="children")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["org", "name"], name="team_org_name")]

    def save(self, *args, **kwargs):
        _keep_pinyin(self, kwargs)
        super().save(*args, **kwargs)

    def __str__(self):
        return self.name


class Promoter(TenantModel):
    """A person who promotes the brand's lives. The code is theirs across lives; joining a
    live's programme is an Enrolment."""
    code = models.CharField(max_length=32)
    name = models.CharField(max_length=80)
    # The name's pinyin sort key, kept by save(): the promoter table sorts names by it in SQL.
    name_pinyin = models.CharField(max_length=KEY_LENGTH, blank=True, default="", editable=False)
    # Personal data, sealed at rest (liveloop.at_rest); found by phone through phone_hash.
    # Shown masked (masked_phone, masked_bank_account) except in finance's payout files.
    phone = EncryptedTextField(max_length=20, blank=True, default="")
    phone_hash = KeyedHashField(source="phone", scope="org_id")
    # The last four digits alone, keyed the same way: operators find "the guide with …5678"
    # without a plain digit of the phone in the database (docs/security.md).
    phone_tail_hash = KeyedHashField(source="phone", scope="org_id", tail=4)
    team = models.ForeignKey(Team, null=True, blank=True, on_delete=models.SET_NULL,
                             related_name="promoters")
    # The WeChat shop sharer (分享员) openid this promoter sells as: orders the shop credits to
    # that sharer are credited to this promoter.
    openid = models.CharField(max_length=128, blank=True, default="")
    # The WeCom (企业微信) user id of a guide who is a member of the brand's WeCom: promoter
    # notices go to them as application messages.
    wecom_userid = models.CharField(max_length=64, blank=True, default="")
    # Where commission is paid when not to the openid (WeChat Pay to change): a bank card.
    bank_account = EncryptedTextField(max_length=34, blank=True, default="")
    bank_name = models.CharField(max_length=40, blank=True, default="")
    # The branch (开户支行) a bank's batch file names for a card at another bank (money.payouts
    # bank layouts); not personal data by itself.
    bank_branch = models.CharField(max_length=60, blank=True, default="")
    # For the platform tax report (互联网平台企业涉税信息报送, money.tax_report) and the bank
    # file's 户名: the legal name (may differ from `name`, the name shown in lives) and the
    # identity document. Sealed at rest; shown masked, in full only to finance (docs/security.md).
    legal_name = EncryptedTextField(max_length=64, blank=True, default="")
    id_type = models.CharField(max_length=24, blank=True, default="")
    id_number = EncryptedTextField(max_length=32, blank=True, default="")
    # Signed into every own-page link and cookie of this person (promoters.links): raising it
    # (an operator's re-issue, disabling) makes all of them stop working at once.
    link_version = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["org", "code"], name="promoter_org_code"),
            models.UniqueConstraint(fields=["org", "openid"], condition=~models.Q(openid=""),
                                    name="promoter_org_openid"),
            # One person per phone in an organisation, as when the phone itself was unique.
            models.UniqueConstraint(fields=["org", "phone_hash"], condition=~models.Q(phone_hash=""),
                                    name="promoter_org_phone_hash"),
        ]

    def save(self, *args, **kwargs):
        update_fields = kwargs.get("update_fields")
        if update_fields is not None and "phone" in update_fields:
            kwargs["update_fields"] = {*update_fields, "phone_hash", "phone_tail_hash"}
        _keep_pinyin(self, kwargs)
        super().save(*args, **kwargs)

    @property
    def masked_phone(self) -> str:
        return mask_phone(self.phone)

    @property
    def masked_bank_account(self) -> str:
        return mask_account(self.bank_account)

    @property
    def masked_id_number(self) -> str:
        return mask_id_number(self.id_number)

    @property
    def masked_legal_name(self) -> str:
        return mask_name(self.legal_name)

    def __str__(self):
        return f"{self.name} ({self.code})"


class Programme(TenantModel):
    """One promoter programme per live (直播预约推广)."""
    MODES = [(m, m) for m in attribution.MODES]

    live = models.OneToOneField("lives.Live", on_delete=models.CASCADE, related_name="programme")
    cap = models.PositiveIntegerField(default=DEFAULT_CAP,
                                      validators=[MinValueValidator(1), MaxValueValidator(DEFAULT_CAP)])
    mode = models.CharField(max_length=12, choices=MODES, default=attribution.FIRST_TOUCH)
    binding_days = models.PositiveIntegerField(default=30,
                                               validators=[MinValueValidator(1), MaxValueValidator(365)])
    is_open = models.BooleanField(default=True)


class Enrolment(TenantModel):
    programme = models.ForeignKey(Programme, on_delete=models.CASCADE, related_name="enrolments")
    promoter = models.ForeignKey(Promoter, on_delete=models.CASCADE, related_name="enrolments")
    joined_at = models.DateTimeField(auto_now_add=True)
    # A disabled promoter keeps their row and past credit; new events naming their code are
    # no longer attributed to them (ingest resolves active enrolments only).
    active = models.BooleanField(default=True)
    disabled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["org", "programme", "promoter"],
                                               name="enrolment_org_programme_promoter")]


def new_token() -> str:
    return secrets.token_urlsafe(16)


class JoinCode(TenantModel):
    """A way into a programme: the recruit QR (many people, 多人码) or a one-person invite
    code (单人码) that is used up by the first person who joins with it."""
    programme = models.ForeignKey(Programme, on_delete=models.CASCADE, related_name="join_codes")
    # Global: the join link carries only this token.
    token = models.CharField(max_length=32, unique=True, default=new_token)
    single_use = models.BooleanField(default=False)
    used_by = models.ForeignKey(Promoter, null=True, blank=True, on_delete=models.SET_NULL,
                                related_name="+")
    used_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True)


class ProofCode(TenantModel):
    """A one-time code sent through the organisation's notice channel to prove that a phone
    number is the promoter's own (actions.proof). Only its keyed hash is kept; it expires,
    takes a limited number of tries and is spent once."""
    promoter = models.ForeignKey(Promoter, on_delete=models.CASCADE, related_name="+")
    code_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    attempts = models.PositiveSmallIntegerField(default=0)
    # Set when the code is used, superseded by a newer one or out of tries: it opens nothing after.
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            # One open code per person: parallel requests cannot multiply the tries at a guess.
            models.UniqueConstraint(fields=["org", "promoter"], condition=models.Q(closed_at__isnull=True),
                                    name="proofcode_one_open_per_promoter"),
        ]


class BrandImage(TenantModel):
    """A brand's logo, its default cover, or one live's cover, for posters and the invite page.

    The file lives under MEDIA_ROOT (the data directory), re-encoded by promoters.images so no
    uploaded byte survives; it is only ever served through a view that checks the organisation.
    """
    LOGO, COVER = "logo", "cover"
    KINDS = [(LOGO, "logo"), (COVER, "cover")]

    kind = models.CharField(max_length=8, choices=KINDS)
    # Null: the brand's own (the logo, the default cover); else this live's cover.
    live = models.ForeignKey("lives.Live", null=True, blank=True, on_delete=models.CASCADE,
                             related_name="+", db_index=False)
    name = models.CharField(max_length=200)  # the file, relative to MEDIA_ROOT
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["org", "kind"], condition=models.Q(live__isnull=True),
                                    name="brandimage_org_kind"),
            models.UniqueConstraint(fields=["org", "live", "kind"], condition=models.Q(live__isnull=False),
                                    name="brandimage_org_live_kind"),
            models.CheckConstraint(condition=models.Q(live__isnull=True) | models.Q(kind="cover"),
                                   name="brandimage_live_cover_only"),
        ]

    @property
    def version(self) -> str:
        # The name ends in the content's digest: a new image, a new value (for ?v= in links).
        return self.name.rsplit("-", 1)[-1].split(".")[0]
