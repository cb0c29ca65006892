from django.urls import path

from liveloop.integrations.wecom import callback, routing

app_name = "wecom"
urlpatterns = [
    path("callback/<str:callback_key>/", callback.callback, name="callback"),
    path("r/<str:live_public_id>/<str:signed>/", routing.route, name="route"),
]
