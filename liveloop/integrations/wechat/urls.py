from django.urls import path

from liveloop.integrations.tuike import callback
from liveloop.integrations.wechat import push

app_name = "wechat"
urlpatterns = [
    path("push/<str:push_key>/", push.push, name="push"),
    path("tuike/<str:callback_key>/", callback.receive, name="tuike_callback"),
]
