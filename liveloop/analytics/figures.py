"""The promoter row's columns, named once: key, label and kind, in the order every copy of the
row shows them. The live page's table and the report (web/tables.py), the page's CSV and
workbook and the API's CSV (analytics/exports.py) and the API's PromoterRow (api/lives.py)
read this table; a counted figure is added here (docs/architecture.md "Adding a counted figure").
"""
from dataclasses import dataclass

from django.utils.translation import gettext_lazy as _

TEXT, COUNT, MONEY = "text", "count", "money"


@dataclass(frozen=True)
class Figure:
    key: str     # the row's key: PromoterStats' field (net is gmv - refunded), the API's field, the CSV's header
    label: str   # the people's header, lazy: the page, the page's CSV and the workbook
    kind: str = COUNT  # MONEY is integer fen: shown ¥, exported in yuan, fen in the API


# Who the row is, then the figures: what the live page's promoter table shows.
PROMOTER_FIGURES = (
    Figure("promoter", _("Code"), TEXT),
    Figure("name", _("Name"), TEXT),
    Figure("team", _("Team / store"), TEXT),
    Figure("reservations", _("Reservations")),
    Figure("entered", _("Entered")),
    Figure("buyers", _("Buyers")),
    Figure("orders", _("Orders")),
    Figure("gmv", _("GMV"), MONEY),
    Figure("refunded", _("Refunded"), MONEY),
    Figure("net", _("Net"), MONEY),
    Figure("follows", _("Follows")),
    Figure("captures", _("Captures")),
)
# Flags (rules.fraud) follow in the files and the API: counts, but not figures that add up.
PROMOTER_FLAGS = (
    Figure("self_referrals", _("Self-referrals")),
    Figure("suspect_reservations", _("Suspect reservations")),
)
PROMOTER_ROW = PROMOTER_FIGURES + PROMOTER_FLAGS

PROMOTER_KEYS = tuple(figure.key for figure in PROMOTER_ROW)
MONEY_KEYS = frozenset(figure.key for figure in PROMOTER_ROW if figure.kind == MONEY)
LABELS = {figure.key: figure.label for figure in PROMOTER_ROW}
