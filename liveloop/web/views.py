"""Operator pages: each view parses, checks membership (org_view) and permission (requires),
calls a query or a service, renders. htmx requests get only the fragment that changed."""
import base64
import math

from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.dates import WEEKDAYS_ABBR
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from liveloop.actions import lives, promoters
from liveloop.analytics.exports import promoter_page_csv_response, promoter_xlsx_response
from liveloop.analytics.queries import (account_rollup, funnel, live_summary, organic_row, promoter_table,
                                       team_rollup)
from liveloop.integrations.tuike.reconcile import flagged_codes
from liveloop.orgs import audit, signin
from liveloop.promoters.links import own_page_url
from liveloop.promoters.models import BrandImage
from liveloop.promoters.qr import qr_svg
from liveloop.rules.attribution import CANCELLED, SCHEDULED
from liveloop.web import brand, queries, tuike
from liveloop.web.context import choose_org, org_view, requires
from liveloop.web.forms import (ApiKeyForm, InviteCodesForm, LiveEditForm, LiveForm, MemberAddForm,
                                MemberError, RoleForm, TimezoneForm, change_role, remove_member, revoke_key,
                                rotate_key)
from liveloop.web.tables import (FUNNEL_LABELS, MODE_LABELS, PROMOTER_COLUMNS, ROLE_LABELS, ROLLUP_COLUMNS,
                                 PAGE_SIZES, SUMMARY_FIGURES, clean_page, clean_page_size, clean_sort,
                                 headers)

PER_PAGE = 50
CODES_PER_PAGE = 20
PROMOTER_TABLE = "promoter-table"   # the element id htmx swaps on the live page
ENROLMENT_TABLE = "enrolments"      # … and on the programme page


def _fragment_for(request, target: str) -> bool:
    # A request from this page's own htmx controls (target named, or a plain HX-Request); a
    # history restore after a cache miss wants the whole page back.
    return (bool(request.htmx) and not request.htmx.history_restore_request
            and request.htmx.target in (None, target))


class LoginView(auth_views.LoginView):
    template_name = "web/login.html"
    redirect_authenticated_user = True


def locked_out(request, response=None, credentials=None):
    """django-axes' lockout answer (settings.AXES_LOCKOUT_CALLABLE): the sign-in page's language,
    when to try again, and Retry-After."""
    until = signin.unlock_at(request, credentials)
    wait = max(1, math.ceil((until - timezone.now()).total_seconds()))
    page = render(request, "web/locked_out.html", {
        "until": timezone.localtime(until), "minutes": math.ceil(wait / 60)}, status=429)
    page["Retry-After"] = str(wait)
    page["Cache-Control"] = "no-store"
    return page


@require_POST
@org_view
def switch_org(request, org):
    # Back to the list: the page the switch was made on belongs to the other organisation.
    choose_org(request, request.POST.get("org", ""))
    return redirect("web:lives")


# Lives

@org_view
def lives_list(request, org):
    upcoming, recent = queries.lives_overview(org)
    recent_page = Paginator(recent, PER_PAGE).get_page(request.GET.get("page"))
    return render(request, "web/lives.html", {
        "upcoming": upcoming, "recent_page": recent_page,
        "accounts": account_rollup(org), "rollup_columns": ROLLUP_COLUMNS,
    })


@org_view
def live_calendar(request, org):
    return render(request, "web/calendar.html", {
        "month": queries.month_calendar(org, request.GET.get("month")),
        "weekdays": [WEEKDAYS_ABBR[day] for day in range(7)],
    })


@require_http_methods(["GET", "POST"])
@org_view
@requires("manage_lives")
def new_live(request, org):
    form = LiveForm(request.POST or None, org=org)
    if request.method == "POST" and form.is_valid():
        live = form.save()
        messages.success(request, _("The live is created. Share its recruit QR code with your promoters."))
        return redirect("web:programme", live.public_id)
    return render(request, "web/live_form.html", {"form": form, "live": None},
                  status=400 if form.errors else 200)


@require_http_methods(["GET", "POST"])
@org_view
@requires("manage_lives")
def edit_live(request, org, public_id):
    live = queries.live_of(org, public_id)
    if live.state != SCHEDULED:
        messages.error(request, _("Only a scheduled live can be edited."))
        return redirect("web:live", live.public_id)
    form = LiveEditForm(request.POST or None, live=live)
    if request.method == "POST" and form.is_valid():
        try:
            form.save(live)
        except lives.TransitionError:  # it went on air meanwhile (the reason is the log's, in English)
            messages.error(request, _("Only a scheduled live can be edited."))
        return redirect("web:live", live.public_id)
    return edit_live_page(request, live, form=form, status=400 if form.errors else 200)


def edit_live_page(request, live, form=None, cover_form=None, status=200):
    # The cover's own form (web.brand) posts elsewhere and comes back here with its errors.
    return render(request, "web/live_form.html", {
        "form": form or LiveEditForm(live=live), "live": live,
        **brand.live_cover_context(live, cover_form)}, status=status)


@require_http_methods(["GET", "POST"])
@org_view
@requires("manage_lives")
def cancel_live(request, org, public_id):
    """GET asks for confirmation (saying how many reservers will be told); POST cancels."""
    live = queries.live_of(org, public_id)
    if live.state != SCHEDULED:
        messages.error(request, _("Only a scheduled live can be cancelled."))
        return redirect("web:live", live.public_id)
    if request.method == "POST":
        try:
            lives.cancel_live(live)
        except lives.TransitionError:  # it went on air or was cancelled meanwhile
            messages.error(request, _("Only a scheduled live can be cancelled."))
        return redirect("web:live", live.public_id)
    return render(request, "web/live_cancel.html", {"live": live, "reservers": queries.reservers(live)})


def _promoter_query(request) -> dict:
    return {"sort": clean_sort(request.GET.get("sort")), "team": request.GET.get("team") or None,
            "search": request.GET.get("q", "").strip() or None}


def _promoter_table_context(request, live) -> dict:
    query = _promoter_query(request)
    per = clean_page_size(request.GET.get("per"))
    # Paginated at the database: one COUNT and one LIMIT/OFFSET page, whatever the programme
    # size. Promoters only: the organic row is shown apart, so the count is of promoters.
    paginator = Paginator(promoter_table(live, **query, organic=False), per)
    page = paginator.page(clean_page(request.GET.get("page"), paginator.num_pages))
    # Like a team filter or a search, the organic row has no team and no name to match.
    organic = None if query["team"] or query["search"] else organic_row(live)
    return {"live": live, "columns": PROMOTER_COLUMNS, "headers": headers(PROMOTER_COLUMNS, query["sort"]),
            "sort": query["sort"], "team": query["team"] or "", "q": query["search"] or "",
            "per": per, "page_sizes": PAGE_SIZES, "page_obj": page, "organic": organic,
            "table_id": PROMOTER_TABLE, "tuike_flagged": flagged_codes(live)}


@org_view
def live_page(request, org, public_id):
    live = queries.live_of(org, public_id)
    table = _promoter_table_context(request, live)
    if _fragment_for(request, PROMOTER_TABLE):
        return render(request, "web/_promoter_table.html", {**table, "fragment": True})
    return _live_page(request, live, table)


def _live_page(request, live, table, tuike_form=None, status=200):
    summary = live_summary(live)
    return render(request, "web/live.html", {
        **table,
        "summary": summary,
        "figures": SUMMARY_FIGURES,
        "funnel": [{**step, "label": FUNNEL_LABELS[step["key"]]} for step in funnel(summary)],
        "teams": queries.team_names(live.org),
        "rollup": team_rollup(live),
        "rollup_columns": ROLLUP_COLUMNS,
        "notices": queries.notices_queued(live) if live.state == CANCELLED else 0,
        "mode_label": MODE_LABELS.get(live.programme.mode, live.programme.mode),
        "programme": live.programme,
        "confirmed": queries.confirmed_reservations(live),
        **tuike.live_context(request, live, tuike_form),
    }, status=status)


@require_POST
@org_view
@requires("manage_lives")
def live_tuike_link(request, org, public_id):
    """Link the live to its WeChat live notice (推客); refused, the live page with the reasons."""
    live = queries.live_of(org, public_id)
    form = tuike.link_notice(request, live)
    if form is not None:
        return _live_page(request, live, _promoter_table_context(request, live), tuike_form=form, status=400)
    return redirect(reverse("web:live", args=[live.public_id]) + "#tuike")


def _export_rows(request, live):
    query = _promoter_query(request)
    return promoter_table(live, **query)


@org_view
@requires("export")
def live_promoters_csv(request, org, public_id):
    live = queries.live_of(org, public_id)
    return promoter_page_csv_response(live, _export_rows(request, live))


@org_view
@requires("export")
def live_promoters_xlsx(request, org, public_id):
    live = queries.live_of(org, public_id)
    return promoter_xlsx_response(live, _export_rows(request, live))


# The programme

def _absolute(request, path: str) -> str:
    return request.build_absolute_uri(path)


def _qr_image(url: str) -> str:
    # A data: URL in an <img>, so the code has alt text and no markup of ours is marked safe.
    return "data:image/svg+xml;base64," + base64.b64encode(qr_svg(url).encode()).decode()


def _join_url(request, token: str) -> str:
    return _absolute(request, reverse("phone:join", args=[token]))


def _enrolment_rows(request, enrolments):
    return [{"enrolment": e, "own_page": _absolute(request, own_page_url(e))} for e in enrolments]


def _programme_page(request, org, programme, codes_form=None, status=200):
    search = request.GET.get("q", "").strip()
    enrolled = Paginator(queries.enrolments(programme, search), PER_PAGE).get_page(request.GET.get("page"))
    context = {"live": programme.live, "programme": programme, "q": search, "enrolled_page": enrolled,
               "rows": _enrolment_rows(request, enrolled), "table_id": ENROLMENT_TABLE}
    if _fragment_for(request, ENROLMENT_TABLE):
        return render(request, "web/_enrolments.html", context)
    recruit = promoters.recruit_code(programme)
    recruit_url = _join_url(request, recruit.token)
    codes = Paginator(queries.invite_codes(programme), CODES_PER_PAGE).get_page(request.GET.get("codes"))
    return render(request, "web/programme.html", {
        **context,
        "counts": queries.enrolment_counts(programme),
        "mode_label": MODE_LABELS.get(programme.mode, programme.mode),
        "recruit_url": recruit_url, "recruit_qr": _qr_image(recruit_url),
        "codes_page": codes,
        "codes": [{"code": code, "url": _join_url(request, code.token), "qr": _qr_image(_join_url(request, code.token))}
                  for code in codes],
        "codes_form": codes_form or InviteCodesForm(),
    }, status=status)


@org_view
def programme_page(request, org, public_id):
    return _programme_page(request, org, queries.programme_of(org, public_id))


@require_POST
@org_view
@requires("manage_lives")
def programme_recruiting(request, org, public_id):
    programme = queries.programme_of(org, public_id)
    promoters.set_recruiting(programme, request.POST.get("open") == "1")
    if request.htmx:
        return render(request, "web/_recruiting.html", {"programme": programme, "live": programme.live,
                                                         "counts": queries.enrolment_counts(programme)})
    return redirect("web:programme", public_id)


@require_POST
@org_view
@requires("manage_lives")
def programme_codes(request, org, public_id):
    programme = queries.programme_of(org, public_id)
    form = InviteCodesForm(request.POST)
    if not form.is_valid():
        return _programme_page(request, org, programme, codes_form=form, status=400)
    created = promoters.create_invite_codes(programme, form.cleaned_data["count"])
    messages.success(request, _("%(count)d one-person codes created.") % {"count": len(created)})
    return redirect(reverse("web:programme", args=[public_id]) + "#codes")


@require_POST
@org_view
@requires("manage_lives")
def programme_code_revoke(request, org, public_id, code_id):
    programme = queries.programme_of(org, public_id)
    code = queries.invite_code_of(programme, code_id)
    try:
        promoters.revoke_invite_code(code)
    except promoters.EnrolmentError:
        messages.error(request, _("A code that was already used cannot be revoked."))
    if request.htmx:
        url = _join_url(request, code.token)
        return render(request, "web/_code_row.html", {"live": programme.live,
                                                      "item": {"code": code, "url": url, "qr": _qr_image(url)}})
    return redirect(reverse("web:programme", args=[public_id]) + "#codes")


# The actions on a promoter, from the programme page and from the promoter's own page
# (web/people.py): one implementation, one audit line each.

def set_enrolment_active(request, org, programme, code: str):
    """Disable or enable the promoter `code` in this programme, as the POST asks; audited when
    it changes something."""
    enrolment = queries.enrolment_of(programme, code)
    active = request.POST.get("active") == "1"
    changed = enrolment.active != active
    promoters.set_active(enrolment, active)
    if changed:
        audit.record(org, request.user, "promoter.enabled" if active else "promoter.disabled",
                     f"promoter {code}", live=programme.live.public_id)
    return enrolment


def reissue_links(request, org, promoter, **detail) -> None:
    """Every own-page link and cookie of the person stops working (all their lives at once:
    promoters.links); their pages then show the new links to send."""
    promoters.reissue_links(promoter)
    audit.record(org, request.user, "promoter.link_reissued", f"promoter {promoter.code}", **detail)


@require_POST
@org_view
@requires("manage_lives")
def programme_promoter_active(request, org, public_id, code):
    programme = queries.programme_of(org, public_id)
    enrolment = set_enrolment_active(request, org, programme, code)
    if request.htmx:
        return render(request, "web/_enrolment_row.html", {"live": programme.live,
                                                           "row": _enrolment_rows(request, [enrolment])[0]})
    return redirect("web:programme", public_id)


@require_POST
@org_view
@requires("manage_lives")
def programme_promoter_link(request, org, public_id, code):
    """Re-issue a promoter's own-page link: the links and cookies they (or anyone they leaked
    to) hold stop working, and the row shows the new link to send them."""
    programme = queries.programme_of(org, public_id)
    enrolment = queries.enrolment_of(programme, code)
    reissue_links(request, org, enrolment.promoter, live=programme.live.public_id)
    if request.htmx:
        return render(request, "web/_enrolment_row.html", {"live": programme.live, "reissued": True,
                                                           "row": _enrolment_rows(request, [enrolment])[0]})
    messages.success(request, _("A new link for %(name)s: the old one no longer opens their page. Send them "
                                "the new one.") % {"name": enrolment.promoter.name})
    return redirect("web:programme", public_id)


# Settings

def _settings_page(request, org, member_form=None, key_form=None, zone_form=None, status=200,
                   logo_form=None, cover_form=None):
    return render(request, "web/settings.html", {
        **brand.settings_context(org, logo_form, cover_form),
        "members": queries.members(org),
        "keys": queries.api_keys(org) if request.may["manage_keys"] else (),
        "member_form": member_form or MemberAddForm(org=org),
        "key_form": key_form or ApiKeyForm(),
        "zone_form": zone_form or TimezoneForm(org=org),
        "role_choices": RoleForm.base_fields["role"].choices,
        "role_labels": ROLE_LABELS,
    }, status=status)


@org_view
def settings_page(request, org):
    return _settings_page(request, org)


@require_POST
@org_view
@requires("manage_members")
def member_add(request, org):
    form = MemberAddForm(request.POST, org=org)
    if not form.is_valid():
        return _settings_page(request, org, member_form=form, status=400)
    member = form.save()
    audit.record(org, request.user, "member.add", member.user.get_username(), role=member.role)
    messages.success(request, _("%(name)s can now sign in.") % {"name": member.user.get_username()})
    return redirect("web:settings")


@require_POST
@org_view
@requires("manage_members")
def member_role(request, org, member_id):
    member = queries.member_of(org, member_id)
    form = RoleForm(request.POST)
    if form.is_valid():
        try:
            before = member.role
            change_role(member, form.cleaned_data["role"])
            audit.record(org, request.user, "member.role", member.user.get_username(),
                         before=before, after=member.role)
        except MemberError as error:
            messages.error(request, str(error))
    return redirect("web:settings")


@require_POST
@org_view
@requires("manage_members")
def member_remove(request, org, member_id):
    member = queries.member_of(org, member_id)
    try:
        remove_member(member)
        audit.record(org, request.user, "member.remove", member.user.get_username(), role=member.role)
    except MemberError as error:
        messages.error(request, str(error))
    return redirect("web:settings")


@require_POST
@org_view
@requires("manage_keys")
def key_create(request, org):
    form = ApiKeyForm(request.POST)
    if not form.is_valid():
        return _settings_page(request, org, key_form=form, status=400)
    api_key, secret = form.save(org)
    audit.record(org, request.user, "key.create", f"{api_key.name} {api_key.prefix}…")
    # Rendered straight from the POST, never stored or redirected with: the only time it is shown.
    response = render(request, "web/key_created.html", {"api_key": api_key, "secret": secret})
    response["Cache-Control"] = "no-store"
    return response


@require_POST
@org_view
@requires("manage_keys")
def key_revoke(request, org, key_id):
    api_key = queries.api_key_of(org, key_id)
    revoke_key(api_key)
    audit.record(org, request.user, "key.revoke", f"{api_key.name} {api_key.prefix}…")
    if request.htmx:
        return render(request, "web/_key_row.html", {"key": api_key})
    return redirect("web:settings")


@require_POST
@org_view
@requires("manage_keys")
def key_rotate(request, org, key_id):
    api_key = queries.api_key_of(org, key_id)
    try:
        new, secret = rotate_key(api_key)
    except MemberError as error:
        messages.error(request, str(error))
        return redirect("web:settings")
    audit.record(org, request.user, "key.rotate", f"{api_key.name} {api_key.prefix}…",
                 new=f"{new.prefix}…", old_expires=api_key.expires_at.isoformat() if api_key.expires_at else None)
    api_key.refresh_from_db()
    response = render(request, "web/key_created.html", {"api_key": new, "secret": secret, "rotated": api_key})
    response["Cache-Control"] = "no-store"
    return response


@require_POST
@org_view
@requires("manage_settings")
def timezone_change(request, org):
    form = TimezoneForm(request.POST, org=org)
    if not form.is_valid():
        return _settings_page(request, org, zone_form=form, status=400)
    before = org.timezone
    form.save()
    org.refresh_from_db(fields=["timezone"])
    audit.record(org, request.user, "settings.timezone", org.slug, before=before, after=org.timezone)
    return redirect("web:settings")


# The brand images' uploads (web.brand) answer with these pages' forms when refused, so they
# live beside the pages rather than in web.brand (which the pages import).
def _brand_upload(request, org, kind: str):
    refused = brand.upload_image(request, org, kind)
    if refused is not None:
        return _settings_page(request, org, status=400,
                              **{"logo_form" if kind == BrandImage.LOGO else "cover_form": refused})
    return redirect(reverse("web:settings") + "#brand-heading")


@require_POST
@org_view
@requires("manage_settings")
def brand_logo(request, org):
    return _brand_upload(request, org, BrandImage.LOGO)


@require_POST
@org_view
@requires("manage_settings")
def brand_cover(request, org):
    return _brand_upload(request, org, BrandImage.COVER)


@require_POST
@org_view
@requires("manage_lives")
def live_cover(request, org, public_id):
    live = queries.live_of(org, public_id)
    refused = brand.upload_image(request, org, BrandImage.COVER, live=live)
    if refused is not None:
        return edit_live_page(request, live, cover_form=refused, status=400)
    return redirect(reverse("web:edit_live", args=[live.public_id]) + "#cover-heading")
