"""The words the finance pages show for the money tables' codes, and a refusal in the page's
language."""
from django.utils.translation import get_language, gettext_lazy

from liveloop.money import payouts
from liveloop.money.models import Entry
from liveloop.rules import commission as rules

STATEMENT_STATES = payouts.STATE_LABELS
ENTRY_KINDS = {
    Entry.ACCRUAL: gettext_lazy("Estimate"), Entry.REVERSAL: gettext_lazy("Estimate reversed"),
    Entry.SETTLEMENT: gettext_lazy("Settlement true-up"), Entry.CLAWBACK: gettext_lazy("Clawback"),
    Entry.ADJUSTMENT: gettext_lazy("Adjustment"), Entry.CARRY: gettext_lazy("Carried"),
}
LINE_KINDS = {
    rules.RATE: gettext_lazy("Commission on net"), rules.TIER: gettext_lazy("Tier"),
    rules.SELF_PURCHASE: gettext_lazy("Own purchases"),
    rules.WECHAT_COMMISSIONED: gettext_lazy("Orders WeChat's sharer programme already commissions"), rules.RESERVATION_BOUNTY: gettext_lazy("Reservation bounty"),
    rules.NEW_BUYER_BOUNTY: gettext_lazy("New buyer bounty"), rules.EFFECTIVE_VIEW_BOUNTY: gettext_lazy("Effective view bounty"),
    rules.OVERRIDE: gettext_lazy("Team override"), rules.ROUNDING: gettext_lazy("Rounding"), rules.CAP: gettext_lazy("Cap"),
}
FIGURE_LABELS = {
    "net_fen": gettext_lazy("Net sales (paid − refunded)"), "self_purchase_net_fen": gettext_lazy("Own purchases (net)"),
    "wechat_net_fen": gettext_lazy("Commissioned by WeChat (net)"),
    "reservations": gettext_lazy("Reservations"), "new_buyers": gettext_lazy("New buyers"),
    "effective_views": gettext_lazy("Effective views"),
}
MONEY_FIGURES = {"net_fen", "self_purchase_net_fen", "wechat_net_fen"}
ORDER_EVENT_LABELS = {"order_paid": gettext_lazy("Order paid"), "order_refund": gettext_lazy("Order refunded"),
                      "commission_order": gettext_lazy("WeChat commission")}
# A WeChat commission order's state (rules.events.COMMISSION_STATES), after its label.
COMMISSION_STATES = {"unsettled": gettext_lazy("unsettled"), "settled": gettext_lazy("settled by WeChat"),
                     "cancelled": gettext_lazy("cancelled by WeChat")}


def said(error) -> str:
    """A rules or settlement error in the page's language (they carry both)."""
    return error.zh if (get_language() or "").startswith("zh") else error.en
