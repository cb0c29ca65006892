from django.db import IntegrityError, transaction
from ninja import Status, Field, Router, Schema
from ninja.errors import HttpError

from liveloop.api.fields import PlainText
from liveloop.lives.models import Account
from liveloop.promoters.models import Team

router = Router(tags=["organisation"])


class AccountIn(Schema):
    name: PlainText = Field(min_length=1, max_length=80)
    channels_id: PlainText = Field("", max_length=64)


class AccountOut(Schema):
    id: int
    name: str
    channels_id: str


class TeamIn(Schema):
    name: PlainText = Field(min_length=1, max_length=80)
    region: PlainText = Field("", max_length=40)


class TeamOut(Schema):
    id: int
    name: str
    region: str


class Problem(Schema):
    detail: str


@router.get("/accounts", response=list[AccountOut], summary="Broadcasting accounts (视频号)")
def list_accounts(request):
    return list(Account.objects.for_org(request.auth).order_by("name"))


@router.post("/accounts", response={201: AccountOut, 409: Problem})
def create_account(request, payload: AccountIn):
    return Status(201, _create_unique(Account, request.auth, payload, "an account with this name exists"))


@router.get("/teams", response=list[TeamOut], summary="Stores and teams")
def list_teams(request):
    return list(Team.objects.for_org(request.auth).order_by("name"))


@router.post("/teams", response={201: TeamOut, 409: Problem})
def create_team(request, payload: TeamIn):
    return Status(201, _create_unique(Team, request.auth, payload, "a team with this name exists"))


def _create_unique(model, org, payload, taken: str):
    # The unique constraint decides, so two simultaneous requests cannot both pass a check.
    try:
        with transaction.atomic():
            return model.objects.create(org=org, **payload.dict())
    except IntegrityError:
        raise HttpError(409, f"name: {taken}") from None
