from django.conf import settings
from django.utils import translation


class ChosenLanguageMiddleware:
    """Chinese unless the person picked English with the switch (the language cookie).

    Django's LocaleMiddleware would follow the browser's Accept-Language, so a phone set to
    English would silently get English pages; our users are Chinese operators first.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        language = request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME)
        if language not in dict(settings.LANGUAGES):
            language = settings.LANGUAGE_CODE
        translation.activate(language)
        request.LANGUAGE_CODE = language
        response = self.get_response(request)
        response.headers.setdefault("Content-Language", language)
        return response
