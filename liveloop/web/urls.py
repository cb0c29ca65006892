from django.contrib.auth import views as auth_views
from django.urls import include, path

from liveloop.web import views

app_name = "web"

urlpatterns = [
    path("", views.lives, name="lives"),
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("org/", views.switch_org, name="switch_org"),
    path("lives/<str:public_id>/", views.live, name="live"),
    path("lives/<str:public_id>/promoters.csv", views.live_promoters_csv, name="live_promoters_csv"),
    # set_language: the header's 中文/English switch posts here.
    path("i18n/", include("django.conf.urls.i18n")),
]
