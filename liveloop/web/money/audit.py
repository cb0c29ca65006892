"""The audit log page: every change the money services (and the rest) recorded, newest first."""
from __future__ import annotations

from django.core.paginator import Paginator
from django.shortcuts import render

from liveloop.web.audit import describe as audit_rows
from liveloop.web.context import org_view
from liveloop.web.money import queries
from liveloop.web.money.queries import PER_PAGE


@org_view
def audit_page(request, org):
    page = Paginator(queries.audit_entries(org), PER_PAGE).get_page(request.GET.get("page"))
    return render(request, "web/money/audit.html", {"page_obj": page, "rows": audit_rows(org, page)})
