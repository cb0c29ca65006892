from django.urls import include, path

from liveloop.api import api

urlpatterns = [
    path("api/v1/", api.urls),
    path("wechat/", include("liveloop.integrations.wechat.urls")),
    path("wecom/", include("liveloop.integrations.wecom.urls")),
    path("", include("liveloop.web.phone.urls")),
    path("", include("liveloop.web.urls")),
]

# Error pages without internals; overload met outside a view still answers 503 (web/errors.py).
handler500 = "liveloop.web.errors.server_error"
