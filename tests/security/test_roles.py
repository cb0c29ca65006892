"""The role matrix against every write action, as one table.

Every route whose view accepts POST is a write (found from the views themselves: a method list
with POST, or code that reads request.POST), and the table must name each one; a new write
action fails the test until its row is added. For each row and each of owner, operator, finance,
viewer (orgs/roles.py), a promoter (own-page cookie) and an anonymous phone: "Y" means the action
is let through (it may still find the input wrong), "-" means refused — 403 for a member, the
sign-in page for anyone else — and the database is exactly as before.
"""
import inspect
import re

import pytest
from django.apps import apps
from django.test import Client

from tests.security.test_isolation import ROUTES, _url
from tests.security.world import mine, promoter_client  # noqa: F401

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
phone:join                              Y     Y       Y       Y      Y        Y
phone:join_code                         Y     Y       Y       Y      Y        Y
phone:join_verify                       Y     Y       Y       Y      Y        Y
phone:invite                            Y     Y       Y       Y      Y        Y
"""
MATRIX = {name: dict(zip(WHO, (cell == "Y" for cell in cells)))
          for name, *cells in (line.split() for line in TABLE.strip().splitlines())}

# Written to by machines, not people: authenticated by the sender's signature, not by a role
# (tests/integrations); the API is authorised by key (tests/test_tenancy.py).
# The mini-program's report is authorised by the ticket Liveloop signed and the wx.login code
# WeChat spends (tests/integrations/test_mini_program.py).
NOT_ROLE_BASED = {"wechat:push", "wecom:callback", "phone:mp_report"}

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
    "web:money_adjust": lambda side: {"amount": "1.23", "reason": "测试", "key": "0123456789abcdef0123456789abcdef"},
}
PATH_VALUES = {"public_id": "live", "code_id": "invite_code", "code": "promoter_code", "member_id": "member",
               "key_id": "api_key", "shop_id": "shop", "mapping_id": "shop_live", "notice_id": "notice",
               "push_id": "push", "token": "join_token", "live_id": "live",
               "plan_id": "plan", "run_id": "run", "number": "statement", "batch_id": "batch", "team_id": "team_pk"}


def _accepts_post(view) -> bool:
    """Whether a view writes: a method list with POST in its decorators, or code reading POST."""
    if hasattr(view, "view_class"):
        return hasattr(view.view_class, "post")
    fn = view
    while fn is not None:
        code = getattr(fn, "__code__", None)
        if code is not None and "request_method_list" in code.co_freevars:
            return "POST" in fn.__closure__[code.co_freevars.index("request_method_list")].cell_contents
        fn = getattr(fn, "__wrapped__", None)
    source = inspect.getsource(inspect.unwrap(view)) if inspect.isfunction(inspect.unwrap(view)) else ""
    return bool(re.search(r"request\.POST|method == .POST", source))


WRITES = [r for r in ROUTES if not r.name.startswith("api:") and r.name not in NOT_ROLE_BASED
          and _accepts_post(r.view)]


def test_the_table_names_every_write_action():
    found = {r.name for r in WRITES}
    missing = sorted(found - set(MATRIX))
    assert not missing, (f"write actions without a row in TABLE (tests/security/test_roles.py): {missing}; "
                         "add one saying which roles may do it")
    assert not sorted(set(MATRIX) - found), "rows for routes that are gone or no longer accept POST"
    print(f"\n[security] role matrix: {len(MATRIX)} write actions × {len(WHO)} roles = {len(MATRIX) * len(WHO)} cells")


def _fingerprint():
    """Every row of every table of ours: a refused action must leave all of them as they were."""
    state = {}
    for model in apps.get_models():
        if model._meta.app_label.startswith(("orgs", "lives", "promoters", "events", "analytics", "notify",
                                             "integrations", "web", "money")) or model._meta.label == "auth.User":
            rows = list(model.objects.order_by("pk").values())
            for row in rows:
                row.pop("last_login", None)  # a refused request may still have signed the person in
            state[model._meta.label] = rows
    return state


def _client(side, who):
    if who in side.members:
        return side.members[who]
    return promoter_client(side) if who == "promoter" else Client()


@pytest.mark.parametrize("name", sorted(MATRIX), ids=str)
def test_role_matrix(mine, name):
    route = next(r for r in ROUTES if r.name == name)
    url = _url(route, {k: mine.objects[PATH_VALUES[k]] for k in route.kwargs})
    data = DATA.get(name, lambda side: {})(mine)
    # Refusals first, each checked to change nothing; then the allowed, which may change things.
    order = sorted(WHO, key=lambda who: MATRIX[name][who])
    for who in order:
        before = _fingerprint()
        answer = _client(mine, who).post(url, data)
        to_login = answer.status_code == 302 and answer["Location"].startswith("/login/")
        if MATRIX[name][who]:
            # 502: let through, then the shop's API (unreachable in tests) failed; signing out
            # lands on the sign-in page by design.
            assert answer.status_code not in (401, 403, 405) and answer.status_code in (*range(200, 500), 502), \
                (name, who, answer.status_code)
            assert not to_login or name == "web:logout", (name, who)
        else:
            if who in mine.members:
                assert answer.status_code == 403, (name, who, answer.status_code)
            else:
                assert to_login, (name, who, answer.status_code)
            assert _fingerprint() == before, (name, who, "a refused action changed the database")
