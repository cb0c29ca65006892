from django.contrib.auth import views as auth_views
from django.urls import include, path

from liveloop.web import notices, planner, room, shops, views
from liveloop.web import scorecards
from liveloop.web import report, trends

app_name = "web"

urlpatterns = [
    path("", views.lives_list, name="lives"),
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("org/", views.switch_org, name="switch_org"),
    path("calendar/", views.live_calendar, name="calendar"),
    # Before lives/<public_id>/: public ids start with "L", so "new" is never one.
    path("lives/new/", views.new_live, name="new_live"),
    path("lives/<str:public_id>/", views.live_page, name="live"),
    path("lives/<str:public_id>/edit/", views.edit_live, name="edit_live"),
    path("lives/<str:public_id>/cancel/", views.cancel_live, name="cancel_live"),
    path("lives/<str:public_id>/promoters.csv", views.live_promoters_csv, name="live_promoters_csv"),
    path("lives/<str:public_id>/promoters.xlsx", views.live_promoters_xlsx, name="live_promoters_xlsx"),
    path("lives/<str:public_id>/room/", room.room_page, name="room"),
    path("lives/<str:public_id>/room/data/", room.room_data, name="room_data"),
    path("lives/<str:public_id>/planner/", planner.planner_page, name="planner"),
    path("lives/<str:public_id>/report/", report.report_page, name="report"),
    path("lives/<str:public_id>/report.xlsx", report.report_xlsx, name="report_xlsx"),
    path("trends/", trends.trends_page, name="trends"),
    path("trends/trends.csv", trends.trends_csv, name="trends_csv"),
    path("trends/trends.xlsx", trends.trends_xlsx, name="trends_xlsx"),
    path("lives/<str:public_id>/programme/", views.programme_page, name="programme"),
    path("lives/<str:public_id>/programme/recruiting/", views.programme_recruiting,
         name="programme_recruiting"),
    path("lives/<str:public_id>/programme/codes/", views.programme_codes, name="programme_codes"),
    path("lives/<str:public_id>/programme/codes/<int:code_id>/revoke/", views.programme_code_revoke,
         name="programme_code_revoke"),
    path("lives/<str:public_id>/programme/promoters/<str:code>/active/", views.programme_promoter_active,
         name="programme_promoter_active"),
    path("lives/<str:public_id>/programme/promoters/<str:code>/link/", views.programme_promoter_link,
         name="programme_promoter_link"),
    path("matrix/", include("liveloop.web.matrix")),
    path("money/", include("liveloop.web.money")),
    path("notices/", notices.notices_page, name="notices"),
    path("agency/scorecards/", scorecards.scorecards_page, name="scorecards"),
    path("agency/scorecards/scorecard.csv", scorecards.scorecards_csv, name="scorecards_csv"),
    path("agency/scorecards/scorecard.xlsx", scorecards.scorecards_xlsx, name="scorecards_xlsx"),
    path("notices/<int:notice_id>/retry/", notices.notice_retry, name="notice_retry"),
    path("settings/", views.settings_page, name="settings"),
    path("settings/members/", views.member_add, name="member_add"),
    path("settings/members/<int:member_id>/role/", views.member_role, name="member_role"),
    path("settings/members/<int:member_id>/remove/", views.member_remove, name="member_remove"),
    path("settings/keys/", views.key_create, name="key_create"),
    path("settings/keys/<int:key_id>/revoke/", views.key_revoke, name="key_revoke"),
    path("settings/keys/<int:key_id>/rotate/", views.key_rotate, name="key_rotate"),
    path("settings/timezone/", views.timezone_change, name="timezone"),
    path("settings/planner/", planner.planner_settings, name="planner_settings"),
    path("settings/shops/", shops.shops_page, name="shops"),
    path("settings/shops/new/", shops.shop_add, name="shop_add"),
    path("settings/shops/<int:shop_id>/", shops.shop_page, name="shop"),
    path("settings/shops/<int:shop_id>/lives/", shops.shop_map, name="shop_map"),
    path("settings/shops/<int:shop_id>/lives/<int:mapping_id>/remove/", shops.shop_unmap, name="shop_unmap"),
    path("settings/shops/<int:shop_id>/sync/", shops.shop_sync, name="shop_sync"),
    path("settings/shops/<int:shop_id>/link/", shops.shop_link, name="shop_link"),
    path("settings/shops/<int:shop_id>/backfill/", shops.shop_backfill, name="shop_backfill"),
    path("settings/shops/<int:shop_id>/pushes/<int:push_id>/retry/", shops.shop_push_retry,
         name="shop_push_retry"),
    # set_language: the header's 中文/English switch posts here.
    path("i18n/", include("django.conf.urls.i18n")),
]
