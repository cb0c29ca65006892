from ninja.security import HttpBearer

from liveloop.orgs.models import ApiKey


class ApiKeyAuth(HttpBearer):
    """Bearer API key → the organisation it belongs to (request.auth)."""

    def authenticate(self, request, token):
        key = ApiKey.lookup(token)
        return key.org if key else None
