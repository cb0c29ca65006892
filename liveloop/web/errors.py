"""Error answers without internals, in the page's language (templates 400/403/404/500/503.html),
and overload (liveloop.overload) as 503 + Retry-After wherever in a request it happens."""
import logging
import sys

from django.conf import settings
from django.http import HttpResponse, JsonResponse
from django.template.loader import render_to_string

from liveloop.overload import is_overload

log = logging.getLogger(__name__)
API_PREFIX = "/api/"


def overloaded_response(request) -> HttpResponse:
    if request.path.startswith(API_PREFIX):
        # The API speaks English to programs, like its other errors (docs/events.md "Overload").
        response = JsonResponse({"detail": "The database is busy and nothing was written. Send the same "
                                           "request again after Retry-After seconds."}, status=503)
    else:
        response = HttpResponse(render_to_string("503.html"), status=503)
    response["Retry-After"] = str(settings.LIVELOOP_RETRY_AFTER)
    response["Cache-Control"] = "no-store"
    return response


class OverloadMiddleware:
    """A view that met overload answers 503 (without the error log a 500 would write)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if is_overload(exception):
            log.warning("overload on %s %s: %s", request.method, request.path, exception)
            return overloaded_response(request)
        return None


def server_error(request):
    """handler500: also reached by an exception outside the views (e.g. the session middleware's
    save), which OverloadMiddleware does not see; Django calls it inside its except block."""
    if is_overload(sys.exc_info()[1]):
        return overloaded_response(request)
    return HttpResponse(render_to_string("500.html"), status=500)
