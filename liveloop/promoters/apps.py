from django.apps import AppConfig
from django.core import checks


class PromotersConfig(AppConfig):
    name = "liveloop.promoters"

    def ready(self):
        checks.register(cjk_font_check)
        checks.register(emoji_font_check)


def cjk_font_check(app_configs, **kwargs):
    """Posters need Chinese glyphs: refuse to start rather than draw boxes later."""
    from liveloop.promoters.fonts import FontNotFound, font_source

    try:
        font_source()
    except FontNotFound as error:
        return [checks.Error(str(error), id="liveloop.E001",
                             hint="install fonts-noto-cjk or set LIVELOOP_CJK_FONT")]
    return []


def emoji_font_check(app_configs, **kwargs):
    """Posters leave emoji out without a colour emoji font: say so at start-up, but serve."""
    from liveloop.promoters.fonts import emoji_font_path

    if emoji_font_path() is None:
        return [checks.Warning("no colour emoji font: emoji in live titles and names are left out of posters",
                               id="liveloop.W001",
                               hint="install fonts-noto-color-emoji or set LIVELOOP_EMOJI_FONT")]
    return []
