"""The outbox seen by operators: what is waiting and what gave up (the dead-letter list)."""
from django.contrib import messages
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _, gettext_lazy
from django.views.decorators.http import require_POST

from liveloop.notify.models import Notice
from liveloop.notify.queue import dead_letters, outbox_counts, requeue
from liveloop.rules.privacy import mask_viewer
from liveloop.web.context import org_view, requires

PER_PAGE = 50
KIND_LABELS = {
    Notice.LIVE_REMINDER: gettext_lazy("Live reminder"),
    Notice.LIVE_CANCELLED: gettext_lazy("Live cancelled"),
    Notice.PROMOTER_SUMMARY: gettext_lazy("Promoter summary"),
    Notice.PROOF_CODE: gettext_lazy("Promoter's one-time code"),
}


@org_view
def notices_page(request, org):
    page = Paginator(dead_letters(org), PER_PAGE).get_page(request.GET.get("page"))
    rows = [{"notice": notice, "kind": KIND_LABELS.get(notice.kind, notice.kind),
             "recipient": mask_viewer(notice.recipient)} for notice in page.object_list]
    return render(request, "web/notices.html", {"counts": outbox_counts(org), "page": page, "rows": rows})


@require_POST
@org_view
@requires("manage_lives")
def notice_retry(request, org, notice_id):
    # Another organisation's (or no) notice is not found, like every foreign id (docs/security.md).
    get_object_or_404(Notice.objects.for_org(org), pk=notice_id)
    if requeue(org, notice_id):
        messages.success(request, _("The notice is back in the queue."))
    else:
        messages.error(request, _("This notice is no longer in the dead-letter list."))
    return redirect("web:notices")
