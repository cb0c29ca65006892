"""Promoters as people (issue 19, item 7): the directory of everyone who promoted the brand,
across lives, and one promoter's page — their lives with figures, commission, statements, and
the programme page's actions (re-issue their link, disable or enable them in a live) in one
place, with the same permissions and audit lines."""
from django.contrib import messages
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from liveloop.money.ledger import balances
from liveloop.money.models import Statement
from liveloop.money.payouts import STATE_LABELS as STATEMENT_STATES
from liveloop.promoters.links import own_page_url
from liveloop.web import queries
from liveloop.web.context import org_view, requires
from liveloop.web.money import promoter_of
from liveloop.web.tables import (DIRECTORY_COLUMNS, PAGE_SIZES, clean_directory_sort, clean_page, clean_page_size,
                                 headers)
from liveloop.web.views import reissue_links, set_enrolment_active

LIVES_PER_PAGE = 50
STATEMENTS_SHOWN = 20  # the most recent; the ledger page has them all


@org_view
def directory_page(request, org):
    search = request.GET.get("q", "").strip()
    sort = clean_directory_sort(request.GET.get("sort"))
    per = clean_page_size(request.GET.get("per"))
    paginator = Paginator(queries.promoter_directory(org, search or None, sort), per)
    page = paginator.page(clean_page(request.GET.get("page"), paginator.num_pages))
    return render(request, "web/promoters.html", {
        "columns": DIRECTORY_COLUMNS, "headers": headers(DIRECTORY_COLUMNS, sort), "sort": sort, "q": search,
        "per": per, "page_sizes": PAGE_SIZES, "page_obj": page, "rows": queries.directory_rows(page),
    })


@org_view
def promoter_page(request, org, code):
    promoter = promoter_of(org, code)
    page = Paginator(queries.promoter_enrolments(promoter), LIVES_PER_PAGE).get_page(request.GET.get("page"))
    rows = queries.promoter_live_rows(promoter, page)
    if request.may["manage_lives"]:
        # The links to send them, as the programme page shows them: current after a re-issue.
        for row in rows:
            row["own_page"] = request.build_absolute_uri(own_page_url(row["enrolment"]))
    return render(request, "web/promoter.html", {
        "promoter": promoter, "page_obj": page, "rows": rows, "balances": balances(org, promoter),
        "statements": Statement.objects.for_org(org).filter(promoter=promoter)
                      .select_related("run__live").order_by("-pk")[:STATEMENTS_SHOWN],
        "states": STATEMENT_STATES,
    })


@require_POST
@org_view
@requires("manage_lives")
def promoter_link(request, org, code):
    promoter = promoter_of(org, code)
    reissue_links(request, org, promoter)
    messages.success(request, _("A new link for %(name)s: the old one no longer opens their page. Send them "
                                "the new one.") % {"name": promoter.name})
    return redirect("web:promoter", promoter.code)


@require_POST
@org_view
@requires("manage_lives")
def promoter_active(request, org, code, public_id):
    programme = queries.programme_of(org, public_id)
    set_enrolment_active(request, org, programme, code)
    return redirect("web:promoter", code)
