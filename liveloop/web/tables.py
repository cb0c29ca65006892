"""The pages' vocabulary: figure and state labels, table columns and how they sort."""
from dataclasses import dataclass

from django.utils.translation import gettext_lazy as _, pgettext_lazy

from liveloop.analytics.figures import COUNT, MONEY, PROMOTER_FIGURES, TEXT
from liveloop.analytics.queries import SORTABLE
from liveloop.orgs.models import Member
from liveloop.rules.attribution import CANCELLED, ENDED, FIRST_TOUCH, LAST_TOUCH, LIVE, SCHEDULED

STATE_LABELS = {
    SCHEDULED: _("Scheduled"),
    LIVE: _("On air"),
    ENDED: _("Ended"),
    CANCELLED: _("Cancelled"),
}

MODE_LABELS = {
    FIRST_TOUCH: _("First touch"),
    LAST_TOUCH: _("Last touch"),
}

# A context: "Viewer" is also the person watching a live, a different word in Chinese.
ROLE_LABELS = {
    Member.OWNER: pgettext_lazy("member role", "Owner"),
    Member.OPERATOR: pgettext_lazy("member role", "Operator"),
    Member.FINANCE: pgettext_lazy("member role", "Finance"),
    Member.VIEWER: pgettext_lazy("member role", "Viewer"),
}

FUNNEL_LABELS = {
    "reservations": _("Reservations"),
    "entered": _("Entered the room"),
    "buyers": _("Buyers"),
}


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    kind: str = COUNT
    sort_key: str = ""  # the name promoter_rows sorts this column by, when not the key

    @property
    def sort_field(self) -> str:
        return self.sort_key or self.key

    @property
    def first_sort(self) -> str:
        # Names read best A→Z; figures are looked at biggest first.
        return self.sort_field if self.kind == TEXT else f"-{self.sort_field}"


SUMMARY_FIGURES = (
    Column("reservations", _("Reservations")),
    Column("entered", _("Entered the room")),
    Column("buyers", _("Buyers")),
    Column("orders", _("Orders")),
    Column("gmv", _("GMV"), MONEY),
    Column("refunded", _("Refunded"), MONEY),
    Column("net", _("Net"), MONEY),
    Column("follows", _("Follows")),
    Column("captures", _("Captures")),
    Column("peak_online", _("Peak online")),
)

# The promoter row's figures (analytics/figures.py, shared with the exports and the API); the
# code column sorts by the promoter's code.
PROMOTER_COLUMNS = tuple(Column(f.key, f.label, f.kind, sort_key="code" if f.key == "promoter" else "")
                         for f in PROMOTER_FIGURES)

# The roll-ups show every figure the promoter table shows, in the same order.
ROLLUP_COLUMNS = tuple(c for c in PROMOTER_COLUMNS if c.kind != TEXT)

DEFAULT_SORT = "-reservations"

# The live page's promoter table: the sizes a reader may choose (up to 1,000 promoters, so
# 200 a page is five pages at most) and the first one.
PAGE_SIZES = (50, 100, 200)
DEFAULT_PAGE_SIZE = PAGE_SIZES[0]


def clean_sort(raw: str | None) -> str:
    """A sort the query accepts; anything else (a hand-edited URL) falls back to the default."""
    if raw and raw.removeprefix("-") in SORTABLE:
        return raw
    return DEFAULT_SORT


def clean_page_size(raw: str | None) -> int:
    """One of PAGE_SIZES; anything else (per=7, per=100000, per=abc) is the default, so a
    hand-edited URL can neither ask the database for every row nor break the page."""
    try:
        size = int(raw or "")
    except ValueError:
        return DEFAULT_PAGE_SIZE
    return size if size in PAGE_SIZES else DEFAULT_PAGE_SIZE


def clean_page(raw: str | None, num_pages: int) -> int:
    """The page to show: a number past the last page is the last page, page 0, a negative or
    a non-number is the first (Django's get_page would send page 0 to the last page)."""
    try:
        number = int((raw or "").strip())
    except ValueError:
        return 1
    return min(max(number, 1), max(num_pages, 1))


@dataclass(frozen=True)
class Header:
    column: Column
    sort: str          # the sort a click on this header asks for
    direction: str     # "asc", "desc" or "" when the table is not sorted by this column


def headers(columns, current: str) -> list[Header]:
    """Clicking the sorted column toggles its direction; another column starts at its first_sort."""
    result = []
    for column in columns:
        field = column.sort_field
        if current.removeprefix("-") == field:
            descending = current.startswith("-")
            result.append(Header(column, field if descending else f"-{field}",
                                 "desc" if descending else "asc"))
        else:
            result.append(Header(column, column.first_sort, ""))
    return result


# The promoter directory (web/people.py): one row per person across the organisation's lives.
# Commission is what statements hold: settled (approved, incl. a failed payment to retry) and paid.
DIRECTORY_COLUMNS = (
    Column("name", _("Name"), TEXT),
    Column("code", _("Code"), TEXT),
    Column("team", _("Team / store"), TEXT),
    Column("lives", _("Lives joined")),
    Column("reservations", _("Reservations")),
    Column("entered", _("Entered")),
    Column("orders", _("Orders")),
    Column("gmv", _("GMV"), MONEY),
    Column("commission_settled", _("Commission settled"), MONEY),
    Column("commission_paid", _("Commission paid"), MONEY),
)
DIRECTORY_SORT = "name"


def clean_directory_sort(raw: str | None) -> str:
    if raw and raw.removeprefix("-") in {c.key for c in DIRECTORY_COLUMNS}:
        return raw
    return DIRECTORY_SORT
