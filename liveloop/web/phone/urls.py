from django.urls import path

from liveloop.web.phone import views, wechat

app_name = "phone"

urlpatterns = [
    path("join/<str:token>/", views.join, name="join"),
    path("join/<str:token>/code/", views.join_code, name="join_code"),
    path("join/<str:token>/verify/", views.join_verify, name="join_verify"),
    path("me/", views.me, name="me"),
    path("me/poster.png", views.poster, name="poster"),
    path("me/qr.png", views.my_qr, name="my_qr"),
    path("me/receive/<str:out_bill_no>/", views.receive, name="receive"),
    path("me/<str:signed>/", views.me_link, name="me_link"),
    path("wx/login/", wechat.callback, name="wx_callback"),
    path("wx/mp/report/", wechat.mp_report, name="mp_report"),
    path("i/<str:live_id>/<str:code>/", views.invite, name="invite"),
    path("i/<str:live_id>/<str:code>/live.ics", views.invite_ics, name="invite_ics"),
    path("i/<str:live_id>/<str:code>/cover.jpg", views.invite_cover, name="invite_cover"),
    path("i/<str:live_id>/<str:code>/logo.png", views.invite_logo, name="invite_logo"),
    path("i/<str:live_id>/<str:code>/wechat-qr.png", views.invite_wechat_qr, name="invite_wechat_qr"),
]
