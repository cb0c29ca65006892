"""Team leaders: who leads each team and which team is above it (the overrides follow them)."""
from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from liveloop.web.context import org_view, requires
from liveloop.web.money import queries
from liveloop.web.money.forms import LeadershipForm
from liveloop.web.money.queries import PER_PAGE


def _teams_page(request, org, failed=None, status=200):
    page = Paginator(queries.teams(org), PER_PAGE).get_page(request.GET.get("page"))
    # The refused form stays on its team's row, with its errors; every other row a fresh form.
    rows = [{"team": t, "form": failed if failed is not None and failed.team.pk == t.pk
             else LeadershipForm(org=org, team=t)} for t in page]
    return render(request, "web/money/teams.html", {"page_obj": page, "rows": rows}, status=status)


@org_view
def teams_page(request, org):
    return _teams_page(request, org)


@require_POST
@org_view
@requires("manage_money")
def team_leadership(request, org, team_id):
    team = queries.team_of(org, team_id)
    form = LeadershipForm(request.POST, org=org, team=team)
    if form.is_valid() and form.save(request.user):
        messages.success(request, _("Team %(name)s saved. Estimates of open lives follow it.") % {"name": team.name})
        return redirect("web:money_teams")
    return _teams_page(request, org, failed=form, status=400)
