"""Tenant isolation over every URL pattern: a member of organisation A (each role) and a
promoter of A (the own-page cookie) ask for every object of organisation B; all answer 404 and
none shows a figure or name of B.

The URL patterns are read from the resolver, so a new route is swept as soon as it exists, and
a route tests/security/routes.py does not classify fails the sweep with instructions. The API
routes' tenancy is swept route by route with API keys in tests/api/test_tenancy.py; here they are
checked against the page credentials (a session or a promoter's cookie opens no API route).
"""
import pytest
from django.test import Client

from liveloop.orgs.models import Member
from liveloop.promoters.links import _signer
from liveloop.integrations.wecom.routing import sign_viewer
from tests.security.routes import (API, CAPABILITY, CLASSES, FINANCE_ONLY, KWARGS, OBJECT, ORG, PUBLIC, ROUTES, Route,
                                   route_url)
from tests.security.world import leaks, mine, promoter_client, theirs  # noqa: F401


# The same kinds of value, naming nothing.
NOWHERE = {"live": "Lnowhere0", "invite_code": 987654321, "promoter_code": "NOPE", "member": 987654321,
           "api_key": 987654321, "shop": 987654321, "shop_live": 987654321, "notice": 987654321, "push": 987654321,
           "plan": 987654321, "run": 987654321, "statement": "S99999-NOPE", "batch": 987654321,
           "team_pk": 987654321, "tuike_sharer": 987654321}

def _forged_enrolment(mine, theirs):
    # B's enrolment id signed as if it belonged to A: the id and the organisation must agree.
    return _signer().sign_object({"e": theirs.enrolment.pk, "o": mine.org.pk})


# For each capability link, the path parameters that must answer 404 (A's and B's things mixed,
# or forged). B's own link opening B's page is by design: the link is the credential.
CAPABILITY_ATTACKS = {
    "phone:join": lambda mine, theirs: [{"token": "not-a-token"}, {"token": theirs.objects["join_token"][:-1]}],
    "phone:join_code": lambda mine, theirs: [{"token": "not-a-token"}, {"token": theirs.objects["join_token"][:-1]}],
    "phone:join_verify": lambda mine, theirs: [{"token": "not-a-token"},
                                               {"token": theirs.objects["join_token"][:-1]}],
    "phone:me_link": lambda mine, theirs: [
        {"signed": _forged_enrolment(mine, theirs)},
        {"signed": _signer().sign_object({"e": mine.enrolment.pk, "o": mine.org.pk})[:-2] + "xx"},
        # A's own enrolment, rightly signed, but with a link version A's promoter no longer has.
        {"signed": _signer().sign_object({"e": mine.enrolment.pk, "o": mine.org.pk,
                                          "v": mine.enrolment.promoter.link_version + 1})}],
    "phone:invite": lambda mine, theirs: [
        {"live_id": theirs.objects["live"], "code": "P2-not"},
        {"live_id": mine.objects["live"], "code": theirs.objects["promoter_code"] + "X"},
        {"live_id": theirs.objects["live"], "code": "P9"}],
    "phone:invite_ics": lambda mine, theirs: [
        {"live_id": theirs.objects["live"], "code": "P9"},
        {"live_id": mine.objects["live"], "code": "P9"}],
    # B's live with A's promoter, A's live with B's promoter: neither shows either brand's image.
    **{name: lambda mine, theirs: [
        {"live_id": theirs.objects["live"], "code": mine.objects["promoter_code"]},
        {"live_id": mine.objects["live"], "code": theirs.objects["promoter_code"]},
        {"live_id": theirs.objects["live"], "code": "P9"}]
       for name in ("phone:invite_cover", "phone:invite_logo", "phone:invite_wechat_qr")},
    "wechat:push": lambda mine, theirs: [{"push_key": "not-a-key"},
                                         {"push_key": theirs.objects["push_key"][:-1]}],
    "wecom:callback": lambda mine, theirs: [{"callback_key": "not-a-key"}],
    "wechat:tuike_callback": lambda mine, theirs: [{"callback_key": "not-a-key"},
                                                   {"callback_key": theirs.objects["callback_key"]}],
    "web:wechatpay_notify": lambda mine, theirs: [{"key": "not-a-key"}],
    "phone:receive": lambda mine, theirs: [{"out_bill_no": "S0NOTABILLA1"}],
    "wecom:route": lambda mine, theirs: [
        # A link signed for B's live, presented on A's live.
        {"live_public_id": mine.objects["live"], "signed": sign_viewer(theirs.live, "VIEWER0001")},
        {"live_public_id": theirs.objects["live"], "signed": "forged"}],
}

# Organisation pages with a search box, which shows the search typed (HOSTILE_QUERY's q).
ECHOES_SEARCH = {"web:promoters"}

# Query parameters under every name a page might read an id from, all naming B's things.
HOSTILE_QUERY = "?lives={live}&live={live}&org={org}&agency={org}&shop={shop}&team={team}&q={team}&mode=lives"


def _classify(route: Route) -> str:
    kind = CLASSES.get(route.name)
    if kind is None and route.name.startswith("api:"):
        kind = API
    if kind is None:
        pytest.fail(
            f"URL {route.pattern!r} (name {route.name!r}) is not classified for the tenancy sweep. "
            "Add it to CLASSES in tests/security/routes.py: PUBLIC if it shows no organisation's "
            "data; ORG if it shows the signed-in member's organisation and has no id in its path; OBJECT "
            "if its path names objects (map each new path parameter in KWARGS to an object key, and add "
            "the object to _seed in tests/security/world.py); CAPABILITY if the path itself is a secret "
            "link (add its attacks to CAPABILITY_ATTACKS). Add it to the role table in "
            "tests/security/routes.py too if it accepts POST.")
    if kind == OBJECT:
        unknown = [k for k in route.kwargs if k not in KWARGS]
        if unknown:
            pytest.fail(f"URL {route.pattern!r} ({route.name}): path parameter(s) {unknown} not in KWARGS; "
                        "map each to the object it names (tests/security/routes.py) so the sweep "
                        "can fill it with another organisation's object.")
    if kind == CAPABILITY and route.name not in CAPABILITY_ATTACKS:
        pytest.fail(f"{route.name}: a CAPABILITY route needs its attacks in CAPABILITY_ATTACKS")
    return kind


def test_an_unclassified_route_fails_the_sweep_with_instructions():
    # What happens when a page is added (say a finance page) before it is classified here.
    new_page = Route("web:payout", "money/payouts/<int:payout_id>/", ("payout_id",), view=None)
    with pytest.raises(pytest.fail.Exception, match="Add it to CLASSES"):
        _classify(new_page)
    CLASSES["web:payout"] = OBJECT
    try:
        with pytest.raises(pytest.fail.Exception, match="not in KWARGS"):
            _classify(new_page)
    finally:
        del CLASSES["web:payout"]


def _object_values(route, side_for):
    """Path values for one route: each parameter from the side side_for(index) chooses."""
    return {name: side_for(index).objects[KWARGS[name]] for index, name in enumerate(route.kwargs)}




def test_every_route_is_classified():
    kinds = {route.name: _classify(route) for route in ROUTES}
    # The sweep sees the pages it should: a broken walk would sweep nothing and pass.
    assert {"web:live", "web:shop_unmap", "phone:invite", "api:read_live", "web:set_language"} <= set(kinds)
    assert len(ROUTES) >= 70
    print(f"\n[security] tenancy sweep: {len(ROUTES)} URL patterns classified "
          f"({', '.join(f'{k}: {list(kinds.values()).count(k)}' for k in (PUBLIC, ORG, OBJECT, CAPABILITY, API))})")


@pytest.mark.parametrize("route", [r for r in ROUTES if CLASSES.get(r.name) == OBJECT], ids=lambda r: r.name)
def test_another_organisations_objects_answer_404(mine, theirs, route):
    _classify(route)
    # The role that may use the route: the owner, except where finance alone may (tax identities).
    top = Member.FINANCE if route.name in FINANCE_ONLY else Member.OWNER
    owner = mine.members[top]
    variants = [lambda i: theirs]  # every parameter from B
    if len(route.kwargs) > 1:
        variants.append(lambda i: mine if i == 0 else theirs)  # A's parent, B's child
        variants.append(lambda i: theirs if i == 0 else mine)  # B's parent, A's child
    foreign_urls = [route_url(route, _object_values(route, side_for)) for side_for in variants]
    own_url = route_url(route, _object_values(route, lambda i: mine))
    # Ids that exist nowhere: what a role gets for them is what it must get for B's (no oracle).
    nowhere_url = route_url(route, {name: NOWHERE[KWARGS[name]] for name in route.kwargs})
    # Every role and the promoter's phone. A role without the permission may be refused (403)
    # before the lookup, but then exactly as for an id that exists nowhere.
    for role, client in mine.members.items():
        for url in foreign_urls:
            for method in ("get", "post"):
                answer = getattr(client, method)(url)
                allowed = (404, 405) if role == top else (403, 404, 405)
                assert answer.status_code in allowed, (role, method, url, answer.status_code)
                assert answer.status_code == getattr(client, method)(nowhere_url).status_code
                assert not leaks(answer), (role, method, url)
    phone = promoter_client(mine)
    for url in foreign_urls:
        for method in ("get", "post"):
            answer = getattr(phone, method)(url)
            assert answer.status_code in (302, 404, 405), (method, url, answer.status_code)
            assert answer.status_code != 302 or answer["Location"].startswith("/login/")
            assert not leaks(answer)
    # Control: A's owner reaches A's own object with the same route, so the 404 was tenancy.
    answered = {m: getattr(owner, m)(own_url).status_code for m in ("get", "post")}
    answered = {m: status for m, status in answered.items() if status != 405}
    assert answered, f"{route.name} answers 405 to GET and POST"
    assert 404 not in answered.values(), (route.name, answered)


@pytest.mark.parametrize("route", [r for r in ROUTES if CLASSES.get(r.name) == ORG], ids=lambda r: r.name)
def test_organisation_pages_show_only_the_own_organisation(mine, theirs, route):
    url = route_url(route, {}) + HOSTILE_QUERY.format(live=theirs.objects["live"], org=theirs.org.pk,
                                                 shop=theirs.objects["shop"], team=theirs.objects["team"])
    clients = [*mine.members.items(), ("promoter", promoter_client(mine)), ("anonymous", Client())]
    for who, client in clients:
        answer = client.get(url)
        assert answer.status_code < 500, (who, url)
        found = leaks(answer)
        if route.name in ECHOES_SEARCH and found == [theirs.objects["team"]]:
            # The search box keeps what was typed (q= is B's store's name): no leak if that is
            # the only place it appears.
            body = answer.content.decode().replace(f'value="{theirs.objects["team"]}"', "")
            found = [marker for marker in found if marker in body]
        assert not found, (who, url, found)
    # The own organisation's data is there when the page is one that shows it (the check above
    # would pass on an empty page).
    if route.name == "web:lives":
        assert "自家直播" in mine.members[Member.OWNER].get(url).content.decode()
    if route.name == "phone:me":
        assert "自家直播" in promoter_client(mine).get(url).content.decode()


@pytest.mark.parametrize("route", [r for r in ROUTES if CLASSES.get(r.name) == CAPABILITY], ids=lambda r: r.name)
def test_forged_or_mismatched_links_answer_404(mine, theirs, route):
    for values in CAPABILITY_ATTACKS[route.name](mine, theirs):
        url = route_url(route, values)
        for who, client in (("member", mine.members[Member.OWNER]), ("promoter", promoter_client(mine)),
                            ("anonymous", Client())):
            for method in ("get", "post"):
                answer = getattr(client, method)(url)
                assert answer.status_code in (404, 405), (who, method, url, answer.status_code)
                assert not leaks(answer), (who, url)


def test_switching_to_another_organisation_is_refused(mine, theirs):
    owner = mine.members[Member.OWNER]
    owner.post("/org/", {"org": theirs.org.pk})
    page = owner.get("/")
    assert page.status_code == 200 and not leaks(page)
    assert "自家直播" in page.content.decode()


@pytest.mark.parametrize("route", [r for r in ROUTES if r.name.startswith("api:") and CLASSES.get(r.name) is None],
                         ids=lambda r: r.name)
def test_page_credentials_open_no_api_route(mine, theirs, route):
    """A signed-in member's session or a promoter's cookie is not an API key: 401 everywhere."""
    url = route_url(route, {name: theirs.objects["live"] for name in route.kwargs})
    own = route_url(route, {name: mine.objects["live"] for name in route.kwargs})
    for client in (mine.members[Member.OWNER], promoter_client(mine)):
        for target in (url, own):
            for method in ("get", "post", "patch"):
                answer = getattr(client, method)(target, content_type="application/json")
                assert answer.status_code in (401, 405), (method, target, answer.status_code)
                assert not leaks(answer)
