"""Every URL pattern of the web app, and what the security sweeps know of each: its kind for the
tenancy sweep (tests/security/test_isolation.py), the role table of the write actions
(tests/security/test_roles.py), and the values that fill path parameters. The sweeps, the hostile
page tests, the extremes and the page exports all read them from here.

A route this file does not classify fails the sweeps with instructions: add it to CLASSES below
(and to TABLE if it accepts POST).
"""
import re
from dataclasses import dataclass
from typing import Callable

from django.urls import URLPattern, URLResolver, get_resolver


@dataclass(frozen=True)
class Route:
    name: str        # namespace:name
    pattern: str     # the full pattern, e.g. lives/<str:public_id>/edit/
    kwargs: tuple    # path parameter names, in order
    view: Callable


def walk(resolver, prefix="", namespaces=()):
    for entry in resolver.url_patterns:
        if isinstance(entry, URLResolver):
            spaces = namespaces + ((entry.namespace,) if entry.namespace else ())
            yield from walk(entry, prefix + str(entry.pattern), spaces)
        elif isinstance(entry, URLPattern):
            name = ":".join(namespaces + (entry.name or f"<unnamed {entry.pattern}>",))
            yield Route(name, prefix + str(entry.pattern), tuple(entry.pattern.converters), entry.callback)


ROUTES = list(walk(get_resolver()))

# What each path parameter of an organisation's page names: the key of Side.objects
# (tests/security/world.py), filled with organisation B's object to attack.
KWARGS = {
    "public_id": "live",
    "code_id": "invite_code",
    "code": "promoter_code",
    "member_id": "member",
    "key_id": "api_key",
    "shop_id": "shop",
    "mapping_id": "shop_live",
    "notice_id": "notice",
    "push_id": "push",
    "plan_id": "plan",
    "run_id": "run",
    "number": "statement",
    "batch_id": "batch",
    "team_id": "team_pk",
    "sharer_id": "tuike_sharer",
}

PUBLIC, ORG, OBJECT, CAPABILITY, API = "public", "org", "object", "capability", "api"

# Every route, by kind:
#   PUBLIC      shows no organisation's data (sign-in, language, the API's schema and docs);
#   ORG         an organisation page without an id in its path: shows the session's organisation;
#   OBJECT      its path names objects (KWARGS says which): B's answer 404 to A's members;
#   CAPABILITY  a public link whose path is a secret (join token, signed link, push key): a
#               forged, foreign or mismatched one answers 404 (variants in CAPABILITY_ATTACKS);
#   API         a Django Ninja route: tenancy by API key in tests/api/test_tenancy.py.
CLASSES = {
    "web:login": PUBLIC, "web:logout": PUBLIC, "web:set_language": PUBLIC,
    "api:openapi-json": PUBLIC, "api:openapi-view": PUBLIC, "api:api-root": PUBLIC,
    # WeChat's return from login and the mini-program's report: their proof is in the query or
    # body (a signed single-use state, a signed ticket and WeChat's code), tested in
    # tests/integrations/test_wechat_login.py and test_mini_program.py.
    "phone:wx_callback": PUBLIC, "phone:mp_report": PUBLIC,
    "web:lives": ORG, "web:switch_org": ORG, "web:calendar": ORG, "web:new_live": ORG,
    "web:matrix": ORG, "web:matrix_csv": ORG, "web:matrix_xlsx": ORG, "web:notices": ORG,
    "web:scorecards": ORG, "web:scorecards_csv": ORG, "web:scorecards_xlsx": ORG,
    "web:settings": ORG, "web:member_add": ORG, "web:key_create": ORG, "web:timezone": ORG,
    "web:planner_settings": ORG, "web:shops": ORG, "web:shop_add": ORG, "web:wechat_apps": ORG,
    "web:brand_logo": ORG, "web:brand_logo_image": ORG, "web:brand_cover": ORG, "web:brand_cover_image": ORG,
    "web:trends": ORG, "web:trends_csv": ORG, "web:trends_xlsx": ORG, "web:promoters": ORG,
    "phone:me": ORG, "phone:poster": ORG, "phone:my_qr": ORG,
    "web:money": ORG, "web:money_settings": ORG, "web:money_plans": ORG, "web:money_plan_new": ORG,
    "web:money_batches": ORG, "web:money_teams": ORG, "web:money_audit": ORG,
    "web:tuike_settings": ORG, "web:tuike_sharers": ORG, "web:tuike_sharers_fetch": ORG,
    "web:wechatpay": ORG, "web:money_wechat_run": ORG,
    "web:money_tax": ORG, "web:money_tax_csv": ORG, "web:money_tax_xlsx": ORG,
    **{name: OBJECT for name in (
        "web:live", "web:edit_live", "web:cancel_live", "web:live_cover", "web:live_cover_image", "web:live_promoters_csv", "web:live_promoters_xlsx",
        "web:room", "web:room_data", "web:planner", "web:programme", "web:programme_recruiting",
        "web:programme_codes", "web:programme_code_revoke", "web:programme_promoter_active",
        "web:programme_promoter_link", "web:promoter", "web:promoter_link", "web:promoter_active",
        "web:notice_retry", "web:member_role", "web:member_remove", "web:key_revoke", "web:key_rotate",
        "web:report", "web:report_xlsx",
        "web:shop", "web:shop_map", "web:shop_unmap", "web:shop_sync", "web:shop_link", "web:shop_backfill",
        "web:shop_push_retry",
        "web:money_plan", "web:money_plan_default", "web:money_plan_archive", "web:money_settle", "web:money_live_plan", "web:money_run",
        "web:money_run_approve", "web:money_run_csv", "web:money_run_xlsx", "web:money_statement",
        "web:money_statement_approve", "web:money_statement_paid", "web:money_statement_retry",
        "web:money_batch", "web:money_batch_csv", "web:money_batch_xlsx", "web:money_batch_results",
        "web:money_ledger", "web:money_adjust", "web:money_ledger_live", "web:money_team",
        "web:live_tuike_notices", "web:live_tuike_link", "web:live_tuike_unlink", "web:live_tuike_sync",
        "web:tuike_sharer_link", "web:tuike_sharer_unlink",
        "web:tuike_reconcile", "web:tuike_reconcile_csv", "web:tuike_reconcile_xlsx", "web:tuike_relink",
        "web:tuike_threshold",
        "web:money_batch_cmb_xlsx", "web:money_batch_cmb_txt", "web:money_statement_release",
        "web:money_tax_identity", "web:money_tax_identity_reveal")},
    **{name: CAPABILITY for name in (
        "phone:join", "phone:join_code", "phone:join_verify", "phone:me_link", "phone:invite", "phone:invite_ics",
        "phone:invite_cover", "phone:invite_logo", "phone:invite_wechat_qr",
        "wechat:push", "wechat:tuike_callback", "wecom:callback", "wecom:route",
        # WeChat Pay's result callback (its key names the merchant; the RSA signature is the
        # proof: tests/money/test_wechatpay.py) and a promoter's bill to confirm (the page's
        # cookie names the promoter; only their own bill answers).
        "web:wechatpay_notify", "phone:receive")},
}


# Routes the owner may not use either (orgs.roles "tax_identity": finance alone, docs/security.md
# "Tax identities"): the sweep's control request is made by finance.
FINANCE_ONLY = {"web:money_tax_identity", "web:money_tax_identity_reveal", "web:money_tax",
                "web:money_tax_csv", "web:money_tax_xlsx"}


def route_url(route: Route, values: dict) -> str:
    """The route's path with <conv:name> parameters filled from values."""
    return "/" + re.sub(r"<(?:\w+:)?(\w+)>", lambda m: str(values[m.group(1)]), route.pattern)


# The role matrix of every write action: who may do it.

WHO = ("owner", "operator", "finance", "viewer", "promoter", "anonymous")

# route name                          owner operator finance viewer promoter anonymous
TABLE = """
web:login                               Y     Y       Y       Y      Y        Y
web:logout                              Y     Y       Y       Y      Y        Y
web:set_language                        Y     Y       Y       Y      Y        Y
web:switch_org                          Y     Y       Y       Y      -        -
web:new_live                            Y     Y       -       -      -        -
web:edit_live                           Y     Y       -       -      -        -
web:cancel_live                         Y     Y       -       -      -        -
web:programme_recruiting                Y     Y       -       -      -        -
web:programme_codes                     Y     Y       -       -      -        -
web:programme_code_revoke               Y     Y       -       -      -        -
web:programme_promoter_active           Y     Y       -       -      -        -
web:programme_promoter_link             Y     Y       -       -      -        -
web:promoter_link                       Y     Y       -       -      -        -
web:promoter_active                     Y     Y       -       -      -        -
web:notice_retry                        Y     Y       -       -      -        -
web:member_add                          Y     -       -       -      -        -
web:member_role                         Y     -       -       -      -        -
web:member_remove                       Y     -       -       -      -        -
web:key_create                          Y     -       -       -      -        -
web:key_revoke                          Y     -       -       -      -        -
web:key_rotate                          Y     -       -       -      -        -
web:timezone                            Y     -       -       -      -        -
web:planner_settings                    Y     -       -       -      -        -
web:brand_logo                          Y     -       -       -      -        -
web:brand_cover                         Y     -       -       -      -        -
web:live_cover                          Y     Y       -       -      -        -
web:shop_add                            Y     -       -       -      -        -
web:wechatpay                           Y     -       -       -      -        -
web:money_wechat_run                    Y     -       Y       -      -        -
web:wechat_apps                         Y     -       -       -      -        -
web:shop_map                            Y     -       -       -      -        -
web:shop_unmap                          Y     -       -       -      -        -
web:shop_sync                           Y     -       -       -      -        -
web:shop_link                           Y     -       -       -      -        -
web:shop_backfill                       Y     -       -       -      -        -
web:shop_push_retry                     Y     -       -       -      -        -
web:money_settings                      Y     -       Y       -      -        -
web:money_plan_new                      Y     -       Y       -      -        -
web:money_plan                          Y     -       Y       -      -        -
web:money_plan_default                  Y     -       Y       -      -        -
web:money_plan_archive                  Y     -       Y       -      -        -
web:money_settle                        Y     -       Y       -      -        -
web:money_live_plan                     Y     -       Y       -      -        -
web:money_run_approve                   Y     -       Y       -      -        -
web:money_statement_approve             Y     -       Y       -      -        -
web:money_statement_paid                Y     -       Y       -      -        -
web:money_statement_retry               Y     -       Y       -      -        -
web:money_batches                       Y     -       Y       -      -        -
web:money_batch_results                 Y     -       Y       -      -        -
web:money_adjust                        Y     -       Y       -      -        -
web:money_team                          Y     -       Y       -      -        -
web:tuike_settings                      Y     -       -       -      -        -
web:tuike_sharers_fetch                 Y     Y       -       -      -        -
web:tuike_sharer_link                   Y     Y       -       -      -        -
web:tuike_sharer_unlink                 Y     Y       -       -      -        -
web:live_tuike_notices                  Y     Y       -       -      -        -
web:live_tuike_link                     Y     Y       -       -      -        -
web:live_tuike_unlink                   Y     Y       -       -      -        -
web:live_tuike_sync                     Y     Y       -       -      -        -
web:tuike_relink                        Y     Y       -       -      -        -
web:tuike_threshold                     Y     -       -       -      -        -
web:money_statement_release             Y     -       Y       -      -        -
web:money_tax_identity                  -     -       Y       -      -        -
web:money_tax_identity_reveal           -     -       Y       -      -        -
phone:join                              Y     Y       Y       Y      Y        Y
phone:join_code                         Y     Y       Y       Y      Y        Y
phone:join_verify                       Y     Y       Y       Y      Y        Y
phone:invite                            Y     Y       Y       Y      Y        Y
"""
MATRIX = {name: dict(zip(WHO, (cell == "Y" for cell in cells)))
          for name, *cells in (line.split() for line in TABLE.strip().splitlines())}

# A plausible body per write, so a "Y" is the action really running, not only a form error.
DATA = {
    "web:switch_org": lambda side: {"org": side.org.pk},
    "web:new_live": lambda side: {"title": "新直播", "announced_at": "2027-12-24T20:00", "account": side.tenant.account.pk,
                                  "cap": 100, "mode": "first_touch", "binding_days": 7},
    "web:edit_live": lambda side: {"title": "改名直播", "announced_at": "2027-12-24T20:00"},
    "web:programme_recruiting": lambda side: {"open": "0"},
    "web:programme_codes": lambda side: {"count": 2},
    "web:programme_promoter_active": lambda side: {"active": "0"},
    "web:promoter_active": lambda side: {"active": "0"},
    "web:member_add": lambda side: {"username": "newcomer", "password": "a long enough pass", "role": "viewer"},
    "web:member_role": lambda side: {"role": "finance"},
    "web:key_create": lambda side: {"name": "新密钥"},
    "web:timezone": lambda side: {"timezone": "Asia/Tokyo"},
    "web:planner_settings": lambda side: {"public_match_percent": "50", "public_match_cap": "10"},
    "web:set_language": lambda side: {"language": "en", "next": "/"},
    "web:login": lambda side: {"username": "nobody", "password": "wrong"},
    "phone:join": lambda side: {"name": "新推广员", "phone": "13800138000"},
    "phone:join_code": lambda side: {"phone": "13900001111"},
    "phone:join_verify": lambda side: {"phone": "13900001111", "code": "123456"},
    "web:money_settings": lambda side: {"refund_window_days": "5"},
    "web:money_plan_new": lambda side: {"name": "新方案", "rate_percent": "5", "override_levels": "0"},
    "web:money_plan": lambda side: {"name": "改名方案", "rate_percent": "6", "override_levels": "0"},
    "web:money_plan_archive": lambda side: {"archived": "1"},
    "web:money_statement_paid": lambda side: {"reference": "WX-1"},
    "web:money_statement_release": lambda side: {"confirm": "1"},
    "web:money_tax_identity": lambda side: {"legal_name": "王小明", "id_type": "resident_id",
                                            "id_number": "11010519491231002X"},
    "web:money_adjust": lambda side: {"amount": "1.23", "reason": "测试", "key": "0123456789abcdef0123456789abcdef"},
    "web:tuike_settings": lambda side: {"appid": "wxtuike0000000001", "app_secret": "tuike-secret-123",
                                        "kind": "talent", "talent_appid": "wxtalent000000001"},
    "web:tuike_sharer_link": lambda side: {"promoter": side.objects["promoter_code"]},
    "web:live_tuike_link": lambda side: {"notice_id": "finder_notice_roles"},
    "web:tuike_relink": lambda side: {"notice_id": "finder_notice_relinked"},
    "web:tuike_threshold": lambda side: {"gap_pct": "30"},
}
PATH_VALUES = {"public_id": "live", "code_id": "invite_code", "code": "promoter_code", "member_id": "member",
               "key_id": "api_key", "shop_id": "shop", "mapping_id": "shop_live", "notice_id": "notice",
               "push_id": "push", "token": "join_token", "live_id": "live",
               "plan_id": "plan", "run_id": "run", "number": "statement", "batch_id": "batch", "team_id": "team_pk",
               "sharer_id": "tuike_sharer", "callback_key": "callback_key"}
