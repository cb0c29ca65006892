from django.apps import AppConfig


class MoneyConfig(AppConfig):
    name = "liveloop.money"

    def ready(self):
        # The ledger's accrual follows every ingest batch (events.projections).
        from liveloop.money import ledger  # noqa: F401
