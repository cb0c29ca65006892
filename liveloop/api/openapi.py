"""The API's schema documents every error it can answer, so a client (and schemathesis, in
tests/security/test_api_hostile.py) knows each 4xx and that it always carries a reason.

Django Ninja documents only the responses a view declares; the ones raised around it (401 from
the key check, 404 from a lookup, 422 from validation, whose detail is a list of field errors)
are added here to every operation.
"""
from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from ninja import NinjaAPI

ERROR = {
    "type": "object",
    "required": ["detail"],
    "properties": {"detail": {
        "description": "why: a sentence, or (422) one entry per field with its location and message",
        "anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "object"}}],
    }},
}
COMMON = {
    "401": "No valid API key (Authorization: Bearer …)",
    "422": "Input that does not fit the schema; detail names each field",
    # liveloop.web.errors: the database's write turn or a lock was not had within the bound.
    "503": "The database is busy: nothing was written; send the same request again after Retry-After seconds",
}
NOT_FOUND = "No such object in the key's organisation (another organisation's ids answer this too)"


def document_errors(schema: dict) -> dict:
    for path, operations in schema.get("paths", {}).items():
        for operation in operations.values():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            # Ninja keys responses by int; JSON keys are strings: one key per status, or a
            # declared 422 and the added "422" would both be written (duplicate keys).
            responses = operation["responses"] = {str(code): r for code, r in operation["responses"].items()}
            errors = dict(COMMON)
            if operation.get("parameters") or "{" in path:
                errors["404"] = NOT_FOUND  # a path or a filter naming an object
                # liveloop.web.middleware.RefuseNulMiddleware, before any lookup.
                errors["400"] = "A NUL character in the address"
            if "requestBody" in operation:
                errors["400"] = "The body is not valid JSON" + (
                    ", or a NUL character in the address" if "400" in errors else "")
                errors["413"] = "The body is larger than the server accepts"
            for code, description in errors.items():
                documented = responses.setdefault(code, {"description": description})
                # A declared 422 (a view's own check) and Ninja's validation 422 share one shape.
                documented["content"] = {"application/json": {"schema": ERROR}}
    return schema


class LiveloopAPI(NinjaAPI):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.add_exception_handler(RequestDataTooBig, self._too_big)

    def _too_big(self, request, exc):
        # Django would answer an HTML 400 page; an API client gets JSON with the reason. A method,
        # so the handler answers through its own API instead of importing liveloop.api (a circle).
        return self.create_response(
            request, {"detail": f"body larger than {settings.DATA_UPLOAD_MAX_MEMORY_SIZE} bytes"}, status=413)

    def get_openapi_schema(self, *, path_prefix=None, path_params=None):
        return document_errors(super().get_openapi_schema(path_prefix=path_prefix, path_params=path_params))
