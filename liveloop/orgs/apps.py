from django.apps import AppConfig


class OrgsConfig(AppConfig):
    name = "liveloop.orgs"
    label = "orgs"

    def ready(self):
        from liveloop.orgs import signin  # noqa: F401 - connects the failed-sign-in receiver
