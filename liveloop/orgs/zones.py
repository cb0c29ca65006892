"""Time zones by the names people know them by: the IANA code (Asia/Shanghai) is a raw code on
a Chinese page or in a Chinese file's header."""
from django.utils.translation import gettext_lazy as _

# Zones our users broadcast from or for (the settings' menu); the organisation's zone if not listed
# is shown by its code.
ZONE_LABELS = {
    "Asia/Shanghai": _("Beijing time"), "Asia/Hong_Kong": _("Hong Kong"), "Asia/Taipei": _("Taipei"),
    "Asia/Macau": _("Macau"), "Asia/Singapore": _("Singapore"), "Asia/Kuala_Lumpur": _("Kuala Lumpur"),
    "Asia/Bangkok": _("Bangkok"), "Asia/Jakarta": _("Jakarta"), "Asia/Tokyo": _("Tokyo"), "Asia/Seoul": _("Seoul"),
    "Asia/Dubai": _("Dubai"), "Europe/London": _("London"), "Europe/Paris": _("Paris"), "Europe/Berlin": _("Berlin"),
    "America/New_York": _("New York"), "America/Los_Angeles": _("Los Angeles"),
    "America/Vancouver": _("Vancouver"), "Australia/Sydney": _("Sydney"),
    "UTC": _("Coordinated Universal Time"),
}


def zone_label(zone: str) -> str:
    """A zone by its name in the page's language; one not in the list by its code."""
    return str(ZONE_LABELS.get(zone, zone))
