"""Capability tokens in URLs are credentials: they stay out of the logs.

An own-page link (/me/<signed>/) opens a promoter's earnings, a join link (/join/<token>/) lets
anyone into a programme, and the shop's push key and WeCom callback key authenticate machines.
Access logs and Django's request warnings ("Not Found: /me/…/") would otherwise keep every one
of them in clear, for anyone who can read the logs, for as long as the logs are kept.

`redact` replaces the secret path segment with REDACTED. Gunicorn's access log uses
`GunicornLogger` (liveloop serve passes it) and Django's log handlers the `RedactFilter`
(settings.LOGGING). This module imports nothing of Django, so gunicorn can load it first.
"""
import logging
import re

REDACTED = "[redacted]"
# The own page's poster and QR are fixed names under /me/, not links.
_SECRET_SEGMENT = re.compile(
    r"(/(?:me|join|wechat/push|wecom/callback)/)(?!(?:poster|qr)\.png(?:[?#\s\"']|$))([^/\s?#\"']+)")
# Headers carrying the own-page cookie: dropped whole, whatever else they hold.
_COOKIE_ATOMS = {"{cookie}i", "{set-cookie}o"}


def redact(text: str) -> str:
    if not isinstance(text, str) or "/" not in text:
        return text
    return _SECRET_SEGMENT.sub(rf"\1{REDACTED}", text)


class RedactFilter(logging.Filter):
    """A handler filter: the formatted message with capability tokens redacted."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a malformed record is logged as it is, not dropped
            return True
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


def _gunicorn_logger():
    from gunicorn.glogging import Logger

    class GunicornLogger(Logger):
        """Gunicorn's logger with every access-log atom redacted: the request line, the path,
        the referer (a page's assets are fetched with the own-page URL as referer), the
        Location of a join's redirect, any header or environ value a format might name."""

        def atoms(self, resp, req, environ, request_time):
            atoms = super().atoms(resp, req, environ, request_time)
            for key, value in atoms.items():
                if key in _COOKIE_ATOMS:
                    atoms[key] = REDACTED
                elif isinstance(value, str):
                    atoms[key] = redact(value)
            return atoms

    return GunicornLogger


def __getattr__(name):
    # Built on first use, so importing this module does not need gunicorn (tests, manage.py).
    if name == "GunicornLogger":
        return _gunicorn_logger()
    raise AttributeError(name)
