from django.apps import AppConfig


class AnalyticsConfig(AppConfig):
    name = "liveloop.analytics"

    def ready(self):
        # The derived tables this package keeps from the log register with the write path
        # (events.projections), which imports none of them.
        from liveloop.analytics import audience, fraud, live_figures  # noqa: F401
