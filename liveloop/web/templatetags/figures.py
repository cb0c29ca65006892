"""Formatting at the edge: money arrives as integer fen and leaves as ¥ text, never via float."""
import operator

from django import template
from django.utils.translation import gettext as _

from liveloop.lib.numbers import yuan
from liveloop.money.models import Entry
from liveloop.money.payouts import NO_REASON
from liveloop.money.settlement import CARRIED_FROM, CARRIED_TO
from liveloop.money.wechatpay import STATE_LABELS as TRANSFER_STATES
from liveloop.orgs.zones import zone_label
from liveloop.web.tables import MONEY, STATE_LABELS, TEXT
from liveloop.web.words import named

register = template.Library()
register.filter("yuan", yuan)  # liveloop.lib.numbers: one ¥ format for pages, messages and files


@register.filter
def count(value) -> str:
    return f"{operator.index(value):,}"


@register.filter
def state_label(state: str) -> str:
    return STATE_LABELS.get(state, state)


@register.filter
def transfer_state(state: str) -> str:
    """A WeChat Pay bill's state in words; none for a statement without a bill."""
    return str(TRANSFER_STATES.get(state, state or ""))


@register.filter
def cell(row: dict, column) -> str:
    """A row's value for a column, formatted by the column's kind (text stays autoescaped)."""
    value = row[column.key]
    if column.kind == MONEY:
        return yuan(value)
    if column.kind == TEXT:
        return "" if value is None else value
    return count(value)



@register.filter
def entry_reason(entry) -> str:
    """An entry's reason in the page's language. A person's reason is shown as typed; the
    carries settlement writes (liveloop/money/settlement.py) are stored as machine text."""
    reason = entry.reason or ""
    if entry.kind != Entry.CARRY:
        return reason
    if reason == CARRIED_TO:
        return _("carried to the next statement")
    if reason.startswith(CARRIED_FROM):
        return _("carried from %(number)s") % {"number": reason.removeprefix(CARRIED_FROM)}
    return reason


@register.filter(name="zone_label")
def zone_label_filter(zone: str) -> str:
    return zone_label(zone)


@register.filter
def failure_reason(text: str) -> str:
    """The reason a payment failed, as the channel's file gave it; "" when it gave none."""
    return "" if text == NO_REASON else text


@register.filter
def name_code(promoter) -> str:
    """张三（P001） on a Chinese page, 张三 (P001) on an English one (autoescaped as text)."""
    return named(promoter.name, promoter.code)
