"""Finance pages: plans, settling lives, statements, payout batches, a promoter's ledger, team
leaders and the audit log (docs/decisions.md "Money: pages and API"), one module each beside
liveloop/money's services; the URL table is money/urls.py.

Every figure is read from the money tables (liveloop/money) through money/queries.py; every
change goes through the money services, which write the audit log. Reading needs `view`
(exports `export`); every POST needs `manage_money` (owner, finance). Amounts typed in yuan are
read with Decimal and turned into whole fen exactly, never through a float (money/forms.py).

Exported here: what other modules import from liveloop.web.money (people.py the promoter
lookup, the phone pages the entry kinds' words); importing them loads no view.
"""
from liveloop.web.money.labels import ENTRY_KINDS
from liveloop.web.money.queries import promoter_of

__all__ = ["ENTRY_KINDS", "promoter_of"]
