"""Rate limits on the public phone pages (join, invite/reserve, the promoter's own page).

Counting is django-ratelimit's fixed-window counter in the Django cache (settings.CACHES: Redis
in production, process memory otherwise). Each group has limits per client address, per viewer
and (for forms that post a mobile number) per number, from settings.LIVELOOP_RATE_LIMITS; a
request over any gets the 429 page (Chinese or English like every page) with Retry-After, and is
counted nowhere else: a farmed reservation beyond the limit never reaches the event log, and a
number tried from a thousand addresses is still one number.
"""
import logging
from functools import wraps

from django.conf import settings
from django.shortcuts import render
from django_ratelimit.core import get_usage

# client_ip lives with the sign-in limits (orgs.signin) so that orgs need not import web.
from liveloop.orgs.signin import client_ip
from liveloop.rules.phones import normalise_mobile
from liveloop.web.phone.relay import VIEWER_COOKIE, cookie_viewer, valid_viewer

log = logging.getLogger(__name__)
PROMOTER_COOKIE = "ll_promoter"  # the own-page cookie (phone.views.OWN_COOKIE)


def viewer_key(request) -> str | None:
    """Who is asking, as far as a phone page can tell: the WeChat openid or viewer cookie the
    relay uses, else the promoter's own-page cookie. None for a first visit (the address limit
    still applies)."""
    # A limit key, not an identity: a claimed value only spends its own budget.
    cookie = request.COOKIES.get(VIEWER_COOKIE)
    viewer = valid_viewer(request.GET.get("openid")) or cookie_viewer(cookie) or valid_viewer(cookie)
    if viewer:
        return f"v:{viewer}"
    promoter = request.COOKIES.get(PROMOTER_COOKIE)
    if promoter:
        return f"p:{promoter[:200]}"
    return None


def phone_key(request) -> str | None:
    """The mobile number a form posts, normalised (so "+86 138-…" and "138…" count as one): a
    number tried from many addresses is limited as one. None when none is posted."""
    if request.method != "POST":
        return None
    phone = normalise_mobile(request.POST.get("phone", "")[:40])
    return f"n:{phone}" if phone else None


def _over(request, group: str, kind: str, value: str | None) -> int | None:
    """Seconds until the window ends when this request is over the limit, else None."""
    rate = settings.LIVELOOP_RATE_LIMITS.get(group, {}).get(kind)
    if not rate or value is None:
        return None
    try:
        usage = get_usage(request, group=f"liveloop.{group}.{kind}", key=lambda _group, _request: value,
                          rate=rate, increment=True)
    except Exception:  # noqa: BLE001 - any cache failure (Redis down) must not take the pages down
        # Fail open: a promoter's page that answers matters more than a limit during an outage.
        log.warning("rate limit %s.%s not counted: the cache is unavailable", group, kind, exc_info=True)
        return None
    if usage and usage["should_limit"]:
        return max(1, usage["time_left"])
    return None


def rate_limited(group: str):
    """Answer 429 (with Retry-After) once a client address, a viewer or a posted number exceeds
    `group`'s limits."""
    if group not in settings.LIVELOOP_RATE_LIMITS:
        raise ValueError(f"no rate limits configured for {group!r} (settings.LIVELOOP_RATE_LIMITS)")

    def decorate(view):
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            # Both counters move on every request, so a client cannot save one by tripping the other.
            waits = [_over(request, group, "ip", client_ip(request)),
                     _over(request, group, "viewer", viewer_key(request)),
                     _over(request, group, "phone", phone_key(request))]
            waits = [w for w in waits if w is not None]
            if waits:
                response = render(request, "phone/rate_limited.html", {"retry_after": max(waits)}, status=429)
                response["Retry-After"] = str(max(waits))
                response["Cache-Control"] = "no-store"
                return response
            return view(request, *args, **kwargs)
        return wrapped
    return decorate
