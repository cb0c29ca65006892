from liveloop.api.openapi import LiveloopAPI

from liveloop.api.auth import ApiKeyAuth

api = LiveloopAPI(
    title="Liveloop API",
    version="1",
    description="Events in, figures out. Every id is scoped to the organisation of the API key; "
                "ids of other organisations answer 404. Money is integer fen.",
    auth=ApiKeyAuth(),
    urls_namespace="api",
)

from liveloop.api import accounts, events, lives, money  # noqa: E402  (routers register on import)

api.add_router("/", events.router)
api.add_router("/", lives.router)
api.add_router("/", accounts.router)
api.add_router("/", money.router)
