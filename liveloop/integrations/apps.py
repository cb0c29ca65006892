from django.apps import AppConfig


class IntegrationsConfig(AppConfig):
    name = "liveloop.integrations"
    label = "integrations"
    verbose_name = "Integrations"
