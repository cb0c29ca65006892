"""The header's scorecards link, shown to an agency's members only."""
from django import template

from liveloop.orgs.models import Organisation

register = template.Library()


@register.filter
def has_agency(orgs) -> bool:
    """Whether the organisations org_view loaded for the header (request.orgs) hold an agency.

    No query: orgs_of lists the user's own organisations and their agencies' client brands, so
    an agency among them is one the user is a member of. The page checks membership itself."""
    return any(org.kind == Organisation.AGENCY for org in orgs or ())
