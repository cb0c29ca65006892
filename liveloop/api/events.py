import orjson
from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from ninja import Status, Router, Schema

from liveloop.events.ingest import ingest
from liveloop.rules.events import EVENT_TYPES, TOUCHPOINTS

router = Router(tags=["events"])


class Rejection(Schema):
    index: int
    id: str | None
    error: str


class Note(Schema):
    index: int
    id: str | None
    note: str


class IngestOut(Schema):
    accepted: int
    duplicates: int
    rejected: list[Rejection]
    notes: list[Note]


class Problem(Schema):
    detail: str


EVENT_SCHEMA = {
    "type": "object",
    "required": ["id", "type", "viewer", "at"],
    "properties": {
        "id": {"type": "string", "minLength": 1, "maxLength": 128},
        "type": {"type": "string", "enum": list(EVENT_TYPES)},
        "live": {"type": "string", "maxLength": 128},
        "viewer": {"type": "string", "minLength": 1, "maxLength": 128},
        "promoter": {"type": "string", "maxLength": 32},
        "order": {"type": "string", "maxLength": 64},
        "amount": {"type": "integer", "minimum": 0, "description": "fen"},
        "count": {"type": "integer", "minimum": 0},
        "at": {"type": "string", "format": "date-time"},
        "touchpoint": {"type": "string", "enum": sorted(TOUCHPOINTS)},
        "attrs": {"type": "object", "description": "flat, at most 2 KB"},
    },
}


@router.post(
    "/events",
    response={200: IngestOut, 400: Problem, 413: Problem},
    summary="Send a batch of events (JSON array or NDJSON, at most 1,000)",
    openapi_extra={"requestBody": {"required": True, "content": {
        "application/json": {"schema": {"type": "array", "maxItems": 1000, "items": EVENT_SCHEMA}},
        "application/x-ndjson": {"schema": {"type": "string", "maxLength": settings.INGEST_MAX_BYTES}},
    }}},
)
def post_events(request):
    try:
        body = request.body
    except RequestDataTooBig:
        return Status(413, {"detail": f"body larger than {settings.INGEST_MAX_BYTES} bytes"})
    if len(body) > settings.INGEST_MAX_BYTES:
        return Status(413, {"detail": f"body larger than {settings.INGEST_MAX_BYTES} bytes"})
    try:
        if request.content_type == "application/x-ndjson":
            events = [orjson.loads(line) for line in body.splitlines() if line.strip()]
        else:
            events = orjson.loads(body)
    except orjson.JSONDecodeError as error:
        return Status(400, {"detail": f"body is not valid JSON/NDJSON: {error}"})
    if not isinstance(events, list):
        return Status(400, {"detail": "body must be a JSON array of events (or NDJSON)"})
    if len(events) > settings.INGEST_MAX_EVENTS:
        return Status(413, {"detail": f"at most {settings.INGEST_MAX_EVENTS} events per request"})
    return Status(200, ingest(request.auth, events, source="api").as_dict())
