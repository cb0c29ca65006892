"""Sign-in: django-axes counts failures per address and per account (settings.AXES_*); this
module adapts its backend to callers without a request and writes failures to the audit log."""
import ipaddress
from datetime import datetime

from axes.backends import AxesStandaloneBackend
from axes.exceptions import AxesBackendPermissionDenied
from axes.helpers import get_client_username, get_cool_off, get_failure_limit
from axes.models import AccessAttempt
from django.conf import settings
from django.contrib.auth.signals import user_login_failed
from django.db.models import Max, Sum
from django.dispatch import receiver
from django.utils import timezone

from liveloop.orgs import audit
from liveloop.orgs.models import Member

IPV6_PREFIX = 64  # one subscriber's IPv6 network: counting single addresses would be trivial to dodge
USERNAME_MAX = 150  # the user model's limit; a longer "username" names no account


def client_ip(request) -> str:
    """The client's address; with LIVELOOP_CLIENT_IP_HEADER, the one the proxy put in that header
    (the last of a comma-separated list: the address the proxy itself saw)."""
    raw = ""
    if settings.LIVELOOP_CLIENT_IP_HEADER:
        raw = request.META.get(settings.LIVELOOP_CLIENT_IP_HEADER, "").split(",")[-1].strip()
    raw = raw or request.META.get("REMOTE_ADDR", "")
    try:
        address = ipaddress.ip_address(raw)
    except ValueError:
        return "unknown"  # all unreadable addresses share one (tight) bucket
    if address.version == 6:
        return str(ipaddress.ip_network(f"{address}/{IPV6_PREFIX}", strict=False).network_address)
    return str(address)


def client_address(request) -> str | None:
    """settings.AXES_CLIENT_IP_CALLABLE: the rate limits' address (the proxy's header when
    configured, an IPv6 /64), None when unreadable (axes stores it in an address column)."""
    address = client_ip(request)
    return None if address == "unknown" else address


class AxesBackend(AxesStandaloneBackend):
    """Axes' standalone backend, except that an authenticate() without a request lets the next
    backend decide instead of raising.

    Only the sign-in page reaches authenticate() from the web, and Django's LoginView always
    passes the request, so every guess an attacker can make is counted. The calls without one
    are in-process (the test client's login(), a shell): there is no address to count, and no
    attacker behind them."""

    def authenticate(self, request, username=None, password=None, **kwargs):
        if request is None:
            return None
        try:
            return super().authenticate(request, username=username, password=password, **kwargs)
        except AxesBackendPermissionDenied:
            request.liveloop_refused_while_locked = True  # not a guess that was tried: see below
            raise


@receiver(user_login_failed, dispatch_uid="liveloop-audit-failed-sign-in")
def audit_failed_sign_in(sender, credentials, request=None, **kwargs):
    """A failed sign-in for an account that exists goes into the audit log of every
    organisation it is a member of (an unknown name belongs to no organisation)."""
    username = credentials.get("username")
    if not isinstance(username, str) or not username or len(username) > USERNAME_MAX:
        return
    # Attempts refused while locked were never tried: leaving them out bounds what a flood can
    # write here to the counted failures (AXES_FAILURE_LIMIT per key and cool-off).
    if getattr(request, "liveloop_refused_while_locked", False):
        return
    # locked: this failure was the one that locked the address or the account.
    detail = {"address": getattr(request, "axes_ip_address", None) or "unknown",
              "locked": bool(getattr(request, "axes_locked_out", False))}
    for member in Member.objects.filter(user__username=username).select_related("org"):
        # Who typed the password is unknown, so the actor is "system" and the account the target.
        audit.record(member.org, None, "member.sign_in_failed", username, **detail)


def unlock_at(request, credentials=None) -> datetime:
    """When sign-in opens again for this request: the cool-off after the last counted failure of
    each locked key (the address, the account), the later of the two."""
    limit = get_failure_limit(request, credentials)
    keys = [{"ip_address": getattr(request, "axes_ip_address", None)},
            {"username": get_client_username(request, credentials)}]
    ends = []
    for key in keys:
        seen = AccessAttempt.objects.filter(**key).aggregate(failures=Sum("failures_since_start"),
                                                             last=Max("attempt_time"))
        if seen["failures"] and seen["failures"] >= limit:
            ends.append(seen["last"] + get_cool_off(request))
    return max(ends, default=timezone.now() + get_cool_off(request))
