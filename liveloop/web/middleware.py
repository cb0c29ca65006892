from django.conf import settings
from django.http import HttpResponseBadRequest, JsonResponse
from django.shortcuts import render
from django.utils import translation


class ChosenLanguageMiddleware:
    """Chinese unless the person picked English with the switch (the language cookie).

    Django's LocaleMiddleware would follow the browser's Accept-Language, so a phone set to
    English would silently get English pages; our users are Chinese operators first.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        language = chosen_language(request)
        translation.activate(language)
        request.LANGUAGE_CODE = language
        response = self.get_response(request)
        response.headers.setdefault("Content-Language", language)
        return response


def chosen_language(request) -> str:
    language = request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME)
    return language if language in dict(settings.LANGUAGES) else settings.LANGUAGE_CODE


class SecurityHeadersMiddleware:
    """The Content-Security-Policy (settings.LIVELOOP_CSP) on every response that has none.

    Django 5.2 sends nosniff, Referrer-Policy, X-Frame-Options and HSTS itself (settings); CSP
    it does not. Scripts come only from our static files, so an injected <script> or onclick in
    a promoter's name would not run even if escaping ever failed.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if settings.LIVELOOP_CSP:
            response.headers.setdefault("Content-Security-Policy", settings.LIVELOOP_CSP)
        return response


class RefuseNulMiddleware:
    """A NUL character in the path or the query string answers 400 before any view runs.

    Forms and the API's bodies refuse NUL field by field; a path or query parameter reaches a
    lookup directly, and PostgreSQL cannot even compare text holding NUL (it raises, a 500)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if "\x00" in request.path or any("\x00" in key or "\x00" in value
                                         for key, values in request.GET.lists() for value in values):
            if not request.path.startswith(API_PREFIX):
                # Answered before ChosenLanguageMiddleware runs: pick the language here.
                with translation.override(chosen_language(request)):
                    return render(request, "400.html", status=400)
            return HttpResponseBadRequest("NUL characters are not allowed in the address",
                                          content_type="text/plain; charset=utf-8")
        return self.get_response(request)


class ApiErrorsAsJsonMiddleware:
    """Every error under /api/ answers JSON with a reason ({"detail": …}).

    Django Ninja's own errors are JSON already; the ones answered around it are not: a method the
    route lacks (Ninja's plain-text 405), a path no route matches (Django's HTML 404), a body
    Django refuses before Ninja runs. An API client should never have to parse an HTML page.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if (response.status_code >= 400 and request.path.startswith(API_PREFIX)
                and not response.get("Content-Type", "").startswith("application/json")
                and not response.streaming):
            replacement = JsonResponse({"detail": _api_reason(response)}, status=response.status_code)
            for header in ("Allow", "Retry-After", "WWW-Authenticate"):
                if header in response:
                    replacement[header] = response[header]
            return replacement
        return response


API_PREFIX = "/api/"


def _api_reason(response) -> str:
    text = response.content.decode("utf-8", "replace").strip()
    # A short plain-text body is the reason itself; an HTML page is replaced by its status phrase.
    if text and len(text) <= 200 and "<" not in text:
        return text
    return response.reason_phrase
