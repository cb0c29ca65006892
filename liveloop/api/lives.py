from datetime import datetime, timezone
from typing import Annotated, Literal, Union

from django.shortcuts import get_object_or_404
from ninja import Body, Field, Path, Query, Router, Schema, Status
from ninja.errors import HttpError
from pydantic import Discriminator, Tag, create_model, field_validator

from liveloop.analytics.exports import promoter_csv_response
from liveloop.analytics.figures import PROMOTER_ROW, TEXT
from liveloop.api.fields import PlainText
from liveloop.analytics.queries import SORTABLE, live_summary, promoter_rows
from liveloop.events.models import Event
from liveloop.actions import lives as services
from liveloop.lives.models import Account, Live
from liveloop.promoters.models import DEFAULT_CAP, Promoter
from liveloop.actions.promoters import EnrolmentError, NewPromoter, enrol
from liveloop.rules.attribution import MODES
from liveloop.rules.dates import DateRangeError, check_announced, check_not_past

router = Router(tags=["lives"])

Mode = Literal[MODES]


def announced(value: datetime) -> datetime:
    """Aware, and within the accepted window (rules.dates): a year-9999 time was once stored
    and then broke every page that showed it in the organisation's zone."""
    if value.tzinfo is None:
        raise ValueError("needs a UTC offset, e.g. 2026-12-01T20:00:00+08:00")
    now = datetime.now(timezone.utc)
    try:
        return check_not_past(check_announced(value, now), now)
    except DateRangeError as error:
        raise ValueError(str(error)) from None


class ProgrammeIn(Schema):
    cap: int = Field(DEFAULT_CAP, ge=1, le=DEFAULT_CAP)
    mode: Mode = "first_touch"
    binding_days: int = Field(30, ge=1, le=365)
    is_open: bool = True


class ProgrammePatch(Schema):
    cap: int | None = Field(None, ge=1, le=DEFAULT_CAP)
    mode: Mode | None = None
    binding_days: int | None = Field(None, ge=1, le=365)
    is_open: bool | None = None


class ProgrammeOut(Schema):
    cap: int
    mode: str
    binding_days: int
    is_open: bool
    promoters: int


class LiveIn(Schema):
    title: PlainText = Field(min_length=1, max_length=120)
    # Bounded like the database's bigint, so a 30-digit id is a 422, not an overflow.
    account: int = Field(ge=1, le=2 ** 63 - 1, description="id of one of the organisation's accounts")
    announced_at: datetime
    programme: ProgrammeIn = ProgrammeIn()

    _announced = field_validator("announced_at")(announced)


class LiveOut(Schema):
    id: str
    title: str
    account: int
    account_name: str
    announced_at: datetime
    state: str
    started_at: datetime | None
    ended_at: datetime | None
    cancelled_at: datetime | None
    programme: ProgrammeOut


class Summary(Schema):
    live: str
    state: str
    reservations: int
    reservations_lapsed: bool
    entered: int
    buyers: int
    orders: int
    gmv: int
    refunded: int
    net: int
    follows: int
    captures: int
    peak_online: int


ROW_DESCRIPTIONS = {
    "promoter": "code; null for the unattributed row",
    "self_referrals": "reservations held by the promoter's own ids (their shop openid and its person): a flag, "
                      "still counted in reservations",
    "suspect_reservations": "reservations made in a burst of distinct viewers from one device or network through "
                            "this promoter (docs/decisions.md): a flag, still counted in reservations",
}
# The promoter row's keys in its order (analytics/figures.py, which the CSV and the pages read
# too): who the row is as text, null on the unattributed row; each figure and flag an integer,
# money in fen.
PromoterRow = create_model("PromoterRow", __base__=Schema, __module__=__name__, **{
    f.key: (str | None if f.kind == TEXT else int, Field(description=ROW_DESCRIPTIONS.get(f.key)))
    for f in PROMOTER_ROW})


class PromoterIn(Schema):
    name: PlainText = Field(min_length=1, max_length=80)
    phone: str = Field("", max_length=20, pattern=r"^(\+?[0-9]{5,19})?$")
    team: PlainText = Field("", max_length=80)
    code: str = Field("", max_length=32, pattern=r"^[A-Za-z0-9_-]*$")


# Chosen by the body's shape, so a 422 names the fields of the one shape sent (not both).
PromotersIn = Annotated[Union[Annotated[PromoterIn, Tag("one")], Annotated[list[PromoterIn], Tag("many")]],
                        Discriminator(lambda body: "many" if isinstance(body, list) else "one")]


class PromoterOut(Schema):
    code: str
    name: str
    phone: str
    team: str | None


class Problem(Schema):
    detail: str


def _live(request, live_id: str, related=("account", "programme")) -> Live:
    lives = Live.objects.for_org(request.auth)
    if related:  # select_related() without names would follow every foreign key
        lives = lives.select_related(*related)
    live = get_object_or_404(lives, public_id=live_id)
    live.org = request.auth  # found in this organisation: no need to read it again
    return live


def _live_out(live: Live) -> dict:
    p = live.programme
    return {"id": live.public_id, "title": live.title, "account": live.account_id,
            "account_name": live.account.name, "announced_at": live.announced_at,
            "state": live.state, "started_at": live.started_at, "ended_at": live.ended_at,
            "cancelled_at": live.cancelled_at,
            "programme": {"cap": p.cap, "mode": p.mode, "binding_days": p.binding_days,
                          "is_open": p.is_open, "promoters": p.enrolments.count()}}


@router.get("/lives", response=list[LiveOut], summary="Lives, newest announced first")
def list_lives(request, state: Literal["scheduled", "live", "ended", "cancelled"] | None = None,
               limit: int = Query(100, ge=1, le=500), offset: int = Query(0, ge=0, le=10 ** 9)):
    qs = Live.objects.for_org(request.auth).select_related("account", "programme").order_by("-announced_at")
    if state:
        qs = qs.filter(state=state)
    return [_live_out(live) for live in qs[offset:offset + limit]]


@router.post("/lives", response={201: LiveOut, 422: Problem})
def create_live(request, payload: LiveIn):
    account = Account.objects.for_org(request.auth).filter(pk=payload.account).first()
    if account is None:
        raise HttpError(422, "account: no such account in this organisation")
    live = services.create_live(request.auth, account=account, title=payload.title,
                                announced_at=payload.announced_at, **payload.programme.dict())
    return Status(201, _live_out(_live(request, live.public_id)))


@router.get("/lives/{live_id}", response=LiveOut)
def read_live(request, live_id: str = Path(..., max_length=32)):
    return _live_out(_live(request, live_id))


def _transition(request, live_id, action):
    live = _live(request, live_id)
    try:
        action(live)
    except services.TransitionError as error:
        raise HttpError(409, str(error)) from None
    return _live_out(_live(request, live_id))


@router.post("/lives/{live_id}/cancel", response={200: LiveOut, 409: Problem},
             summary="Cancel a scheduled live: its reservations reset to zero")
def cancel_live(request, live_id: str = Path(..., max_length=32)):
    return _transition(request, live_id, services.cancel_live)


@router.post("/lives/{live_id}/start", response={200: LiveOut, 409: Problem},
             summary="The live goes on air (more than 1 h after the announced time: reservations lapse)")
def start_live(request, live_id: str = Path(..., max_length=32)):
    return _transition(request, live_id, services.start_live)


@router.post("/lives/{live_id}/end", response={200: LiveOut, 409: Problem})
def end_live(request, live_id: str = Path(..., max_length=32)):
    return _transition(request, live_id, services.end_live)


@router.get("/lives/{live_id}/programme", response=ProgrammeOut)
def read_programme(request, live_id: str = Path(..., max_length=32)):
    return _live_out(_live(request, live_id))["programme"]


@router.patch("/lives/{live_id}/programme", response={200: ProgrammeOut, 409: Problem, 422: Problem})
def update_programme(request, payload: ProgrammePatch, live_id: str = Path(..., max_length=32)):
    live = _live(request, live_id)
    programme = live.programme
    changes = payload.dict(exclude_unset=True, exclude_none=True)
    rules_change = {k for k in ("mode", "binding_days")
                    if k in changes and changes[k] != getattr(programme, k)}
    if rules_change and Event.objects.for_org(request.auth).filter(live=live).exists():
        # Changing who-gets-credit after events arrived would rewrite earned credit.
        raise HttpError(409, f"{', '.join(sorted(rules_change))}: cannot change once the live has events")
    if "cap" in changes and changes["cap"] < programme.enrolments.count():
        raise HttpError(422, f"cap: below the {programme.enrolments.count()} promoters already enrolled")
    for key, value in changes.items():
        setattr(programme, key, value)
    programme.save()
    return _live_out(_live(request, live_id))["programme"]


@router.get("/lives/{live_id}/summary", response=Summary,
            summary="The live's figures (docs/events.md, Counting)")
def summary(request, live_id: str = Path(..., max_length=32)):
    live = _live(request, live_id, related=())  # polled: the live's own columns are enough
    return {"live": live.public_id, "state": live.state, **live_summary(live)}


@router.get("/lives/{live_id}/promoters", response={200: list[PromoterRow], 422: Problem},
            summary="Figures per promoter plus the unattributed row; ?format=csv for a spreadsheet")
def promoters(request, live_id: str = Path(..., max_length=32), sort: str = Query("-reservations", max_length=32, description=f"one of {', '.join(SORTABLE)}; prefix - for descending"),
              team: str | None = Query(None, max_length=80), format: Literal["json", "csv"] = "json"):
    live = _live(request, live_id)
    try:
        rows = promoter_rows(live, sort=sort, team=team)
    except ValueError as error:
        raise HttpError(422, str(error)) from None
    if format == "csv":
        return promoter_csv_response(live, rows)
    return Status(200, rows)


@router.post("/lives/{live_id}/promoters", response={201: list[PromoterOut], 409: Problem, 422: Problem},
             summary="Enrol one promoter (object) or many (array, at most 1,000): all or none")
def add_promoters(request, payload: Body[PromotersIn], live_id: str = Path(..., max_length=32)):
    live = _live(request, live_id)
    people = payload if isinstance(payload, list) else [payload]
    if len(people) > DEFAULT_CAP:
        raise HttpError(422, f"at most {DEFAULT_CAP} promoters per request")
    try:
        enrolled = enrol(live.programme, [NewPromoter(**p.dict()) for p in people])
    except EnrolmentError as error:
        raise HttpError(409, str(error)) from None
    # In the order sent, so a caller can pair each person with the code they got.
    loaded = Promoter.objects.for_org(request.auth).select_related("team").in_bulk([p.pk for p in enrolled])
    return Status(201, [{"code": p.code, "name": p.name, "phone": p.masked_phone,
                  "team": p.team.name if p.team else None} for p in (loaded[q.pk] for q in enrolled)])
