"""Which organisation a signed-in person is working in, and what they may do there: one place,
reused by every page."""
from functools import wraps
from zoneinfo import ZoneInfo

from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.utils import timezone

from liveloop.orgs.roles import PERMISSIONS, can
from liveloop.orgs.services import orgs_of

SESSION_KEY = "org"


def pick_org(orgs, chosen):
    """The organisation chosen in the session if it is still one the user may open, else the first."""
    for org in orgs:
        if str(org.pk) == str(chosen):
            return org
    return orgs[0] if orgs else None


def choose_org(request, org_id: str) -> bool:
    if not org_id.isdigit() or not any(org.pk == int(org_id) for org in orgs_of(request.user)):
        return False
    request.session[SESSION_KEY] = int(org_id)
    return True


def org_view(view):
    """A page of one organisation: sign-in required, called as view(request, org, ...).

    Sets request.org, request.orgs (for the header's switcher), request.role and request.may
    (action → bool, for templates to show only the buttons that would work). Rendering happens
    inside the organisation's time zone, so templates show its local times and forms read
    entered times in it.
    """
    @login_required
    @wraps(view)
    def wrapped(request, *args, **kwargs):
        request.orgs = list(orgs_of(request.user))
        org = pick_org(request.orgs, request.session.get(SESSION_KEY))
        if org is None:
            return render(request, "web/no_org.html", status=403)
        request.org = org
        request.role = org.member_role  # read in the same statement (orgs_of)
        request.may = {action: can(request.role, action) for action in PERMISSIONS}
        with timezone.override(ZoneInfo(org.timezone)):
            return view(request, org, *args, **kwargs)
    return wrapped


def requires(action: str):
    """Under org_view: answer 403 unless the member's role may `action` (orgs.roles).

    Every view that changes something carries it, so hiding a button is never the only guard.
    """
    if action not in PERMISSIONS:
        raise ValueError(f"unknown action {action!r}")

    def decorate(view):
        @wraps(view)
        def wrapped(request, org, *args, **kwargs):
            if not can(request.role, action):
                return render(request, "web/forbidden.html", status=403)
            return view(request, org, *args, **kwargs)
        return wrapped
    return decorate
