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

from tests.security.routes import DATA, MATRIX, PATH_VALUES, ROUTES, WHO, route_url
from tests.security.world import mine, promoter_client  # noqa: F401

# Written to by machines, not people: authenticated by the sender's signature, not by a role
# (tests/integrations); the API is authorised by key (tests/api/test_tenancy.py).
# The mini-program's report is authorised by the ticket Liveloop signed and the wx.login code
# WeChat spends (tests/integrations/test_mini_program.py).
NOT_ROLE_BASED = {"wechat:push", "wechat:tuike_callback", "wecom:callback", "phone:mp_report",
                  "web:wechatpay_notify"}

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
    assert not missing, (f"write actions without a row in TABLE (tests/security/routes.py): {missing}; "
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
    url = route_url(route, {k: mine.objects[PATH_VALUES[k]] for k in route.kwargs})
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
