"""Promoter and viewer pages on the phone: joining, the own page, the invite relay, the .ics."""
import re
from datetime import datetime, timedelta, timezone

import pytest
from django.conf import settings
from django.core import signing
from django.test import Client
from django.utils import translation

from liveloop.analytics.models import PromoterStats
from liveloop.events.models import Event, LiveViewer
from liveloop.actions.lives import cancel_live, end_live, start_live
from liveloop.promoters.links import SALT, own_page_url, sign_enrolment
from liveloop.promoters.models import Enrolment, JoinCode, Promoter, Team, phone_match
from liveloop.promoters.qr import qr_png
from liveloop.web.phone import relay
from liveloop.web.phone.dates import when_text
from liveloop.rules.privacy import mask_viewer
from tests.actors import event

XSS = "<script>alert(1)</script>"
XSS_ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"


def soon():
    return datetime.now(timezone.utc).replace(microsecond=0) + timedelta(days=3)


def english():
    client = Client()
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    return client


def recruit_code(live):
    return JoinCode.objects.get(programme__live=live, single_use=False)


def join_url(code):
    return f"/join/{code.token}/"


def join(client, live_or_code, name="王小花", phone="13800138000", **more):
    code = live_or_code if isinstance(live_or_code, JoinCode) else recruit_code(live_or_code)
    return client.post(join_url(code), {"name": name, "phone": phone, **more})


def enrolment_of(live, phone):
    return Enrolment.objects.get(phone_match(live.org, phone, "promoter__"), programme__live=live)


def html(response):
    return response.content.decode()


# Joining

def test_join_form_shows_the_live_and_the_organisations_teams(brand, outsider):
    Team.objects.create(org=brand.org, name="杭州西湖店")
    Team.objects.create(org=outsider.org, name="别家的店")
    live = brand.live(title="山茶花专场")
    page = html(english().get(join_url(recruit_code(live))))
    assert "山茶花专场" in page and brand.account.name in page
    assert when_text(live.announced_at, brand.org, "en") in page
    assert "杭州西湖店" in page and "别家的店" not in page
    for field in ("name", "phone", "team"):
        assert f'<label for="id_{field}">' in page and f'id="id_{field}"' in page
    assert "csrfmiddlewaretoken" in page


def test_joining_enrols_and_opens_the_own_page_with_a_cookie(brand):
    team = Team.objects.create(org=brand.org, name="杭州西湖店")
    live = brand.live()
    client = Client()
    response = join(client, live, phone="+86 138-0013-8000", team=team.pk)
    enrolment = enrolment_of(live, "13800138000")
    assert response.status_code == 302 and response["Location"] == own_page_url(enrolment)
    assert enrolment.promoter.name == "王小花" and enrolment.promoter.team == team
    page = client.get(response["Location"])
    assert page.status_code == 200 and enrolment.promoter.code in html(page)
    cookie = page.cookies["ll_promoter"]
    assert cookie["httponly"] and cookie["samesite"] == "Lax" and cookie.value
    assert client.get("/me/").status_code == 200  # the cookie alone finds the page again


def test_a_bad_phone_number_is_refused_with_a_message(brand):
    live = brand.live()
    response = join(english(), live, phone="12345")
    assert response.status_code == 400 and "11-digit" in html(response)
    assert not Enrolment.objects.filter(programme__live=live).exists()


def test_a_known_phone_reuses_the_promoter_in_another_live(brand):
    first, second = brand.live(title="第一场"), brand.live(title="第二场")
    phone = Client()
    phone.get(join(phone, first)["Location"])  # the own page remembers them on this phone
    response = join(phone, second, name="另一个名字")
    assert response.status_code == 302 and response["Location"] == own_page_url(enrolment_of(second, "13800138000"))
    assert Promoter.objects.for_org(brand.org).count() == 1
    assert enrolment_of(first, "13800138000").promoter_id == enrolment_of(second, "13800138000").promoter_id


def test_a_full_programme_says_so(brand):
    live = brand.live(cap=1)
    join(Client(), live, phone="13800138001")
    assert english().get(join_url(recruit_code(live))).status_code == 409
    response = join(english(), live, phone="13800138002")
    assert response.status_code == 409 and "full" in html(response)
    assert Enrolment.objects.filter(programme__live=live).count() == 1


def test_closed_recruiting_and_a_cancelled_live_say_so(brand):
    closed, cancelled = brand.live(), brand.live(announced_at=soon())
    closed.programme.is_open = False
    closed.programme.save()
    cancel_live(cancelled)
    for live in (closed, cancelled):
        response = join(english(), live)
        assert response.status_code == 410 and "Recruiting has closed" in html(response)
    assert not Enrolment.objects.exists()


def test_the_same_phone_twice_hands_out_nothing_of_theirs(brand):
    live = brand.live()
    join(Client(), live, name="原来的人")
    first = enrolment_of(live, "13800138000")
    stranger = english()
    response = join(stranger, live, name="冒名的人")
    page = html(response)
    assert response.status_code == 409 and "already belongs to a promoter" in page
    assert first.promoter.code not in page and "原来的人" not in page and "/me/" not in page
    assert "ll_promoter" not in response.cookies
    assert stranger.get("/me/").status_code == 200 and first.promoter.code not in html(stranger.get("/me/"))
    assert Promoter.objects.get(pk=first.promoter_id).name == "原来的人"


def test_a_one_person_code_is_used_up(brand):
    live = brand.live()
    code = JoinCode.objects.create(org=brand.org, programme=live.programme, single_use=True)
    assert join(Client(), code, phone="13800138001").status_code == 302
    code.refresh_from_db()
    assert code.used_by.phone == "13800138001" and code.used_at is not None
    response = join(english(), code, phone="13800138002")
    assert response.status_code == 410 and "used" in html(response)
    assert english().get(join_url(code)).status_code == 410
    assert Enrolment.objects.filter(programme__live=live).count() == 1


def test_unknown_and_revoked_join_links_are_not_found(brand):
    live = brand.live()
    code = recruit_code(live)
    assert Client().get("/join/no-such-token/").status_code == 404
    code.revoked_at = datetime.now(timezone.utc)
    code.save()
    assert Client().get(join_url(code)).status_code == 404
    assert join(Client(), code).status_code == 404


def test_joining_needs_the_csrf_token(brand):
    live = brand.live()
    client = Client(enforce_csrf_checks=True)
    assert join(client, live).status_code == 403
    assert not Enrolment.objects.filter(programme__live=live).exists()


# The promoter's own page

def figures_page(brand, live, code):
    enrolment = Enrolment.objects.get(programme__live=live, promoter__code=code)
    return Client().get(own_page_url(enrolment))


def test_the_own_page_shows_only_that_promoters_figures_and_invitees(brand):
    live = brand.live(announced_at=soon(), promoters=["PA", "PB"])
    L = live.public_id
    at = datetime.now(timezone.utc) - timedelta(hours=1)
    brand.send([event("r1", "reservation", L, "viewerAAA111", promoter="PA", at=at),
                event("r2", "reservation", L, "viewerAAA222", promoter="PA", at=at),
                event("r3", "reservation", L, "viewerBBB999", promoter="PB", at=at),
                event("e1", "room_enter", L, "viewerAAA111", at=at),
                event("o1", "order_paid", L, "viewerAAA111", order="O1", amount=12900, at=at),
                event("f1", "order_refund", L, "viewerAAA111", order="O1", amount=900, at=at)])
    a = html(figures_page(brand, live, "PA"))
    b = html(figures_page(brand, live, "PB"))
    assert "¥120.00" in a and "¥0.00" in b
    assert mask_viewer("viewerAAA111") in a and mask_viewer("viewerBBB999") not in a
    assert mask_viewer("viewerBBB999") in b and mask_viewer("viewerAAA111") not in b
    assert "viewerAAA111" not in a  # masked, never the id itself
    assert "推广员PB" not in a and "/i/%s/PB/" % L not in a

    def figure(page, label):
        return re.search(rf"<dt>{label}</dt><dd>([^<]*)</dd>", page).group(1)
    english_a = html(english().get(own_page_url(Enrolment.objects.get(promoter__code="PA"))))
    assert [figure(english_a, f) for f in ("Reservations", "Entered", "Buyers", "Net sales")] == \
        ["2", "1", "1", "¥120.00"]


def test_a_tampered_or_foreign_signature_is_refused(brand):
    live = brand.live(promoters=["FORGEDPROMOTER"])
    enrolment = Enrolment.objects.get(programme__live=live)
    signed = own_page_url(enrolment).split("/")[2]
    tampered = signed[:-2] + ("AA" if not signed.endswith("AA") else "BB")
    assert Client().get(f"/me/{tampered}/").status_code == 404
    other_salt = signing.Signer(salt=SALT + ".old").sign_object({"e": enrolment.pk, "o": enrolment.org_id})
    assert Client().get(f"/me/{other_salt}/").status_code == 404
    # A forged cookie gets the friendly page, and no QR or poster.
    client = Client()
    client.cookies["ll_promoter"] = tampered
    response = client.get("/me/")
    assert response.status_code == 200 and "FORGEDPROMOTER" not in html(response)
    assert client.get("/me/qr.png").status_code == 404 and client.get("/me/poster.png").status_code == 404


def test_a_signature_names_its_organisation(brand, outsider):
    live = brand.live(promoters=["PA"])
    enrolment = Enrolment.objects.get(programme__live=live)
    enrolment.org_id = outsider.org.pk  # same id signed for another organisation
    assert Client().get(own_page_url(enrolment)).status_code == 404


def test_without_a_cookie_me_explains_what_to_do(db):
    response = english().get("/me/")
    assert response.status_code == 200 and "Open your link again" in html(response)
    assert "链接丢了？请品牌的工作人员重新发送" in html(Client().get("/me/"))


def test_a_removed_promoter_sees_why(brand):
    # A code no random token (CSRF, signature) will ever contain by chance.
    live = brand.live(promoters=["REMOVEDPROMOTER"])
    enrolment = Enrolment.objects.get(programme__live=live)
    client = english()
    client.get(own_page_url(enrolment))
    Enrolment.objects.filter(pk=enrolment.pk).update(active=False, disabled_at=datetime.now(timezone.utc))
    response = client.get(own_page_url(enrolment))
    assert response.status_code == 410 and "removed" in html(response)
    assert "REMOVEDPROMOTER" not in html(response) and "/i/" not in html(response)
    assert client.get("/me/").status_code == 410
    assert client.get("/me/poster.png").status_code == 404


def test_the_invite_qr_encodes_the_invite_url(brand):
    live = brand.live(promoters=["PA"])
    client = Client()
    client.get(own_page_url(Enrolment.objects.get(programme__live=live)))
    response = client.get("/me/qr.png")
    assert response["Content-Type"] == "image/png" and response.content.startswith(b"\x89PNG\r\n\x1a\n")
    assert response.content == qr_png(f"http://testserver/i/{live.public_id}/PA/")


def test_the_countdown_is_rendered_on_the_server(brand):
    live = brand.live(announced_at=datetime.now(timezone.utc) + timedelta(days=2, hours=3, minutes=30),
                      promoters=["PA"])
    page = html(Client().get(own_page_url(Enrolment.objects.get(programme__live=live))))
    assert '<b data-part="days">2</b>' in page and '<b data-part="hours">03</b>' in page
    assert re.search(r'data-target="[^"]+\+08:00"', page)


def test_the_own_page_links_the_same_persons_other_lives(brand, outsider):
    first, second = brand.live(title="第一场"), brand.live(title="第二场")
    phone = Client()
    phone.get(join(phone, first)["Location"])
    join(phone, second)  # the cookie proves it is them
    join(Client(), outsider.live(title="别家的场"))
    page = html(Client().get(own_page_url(enrolment_of(first, "13800138000"))))
    assert own_page_url(enrolment_of(second, "13800138000")) in page and "第二场" in page
    assert "别家的场" not in page


def test_own_page_url_is_a_relative_signed_path(brand):
    live = brand.live(promoters=["PA"])
    enrolment = Enrolment.objects.get(programme__live=live)
    url = own_page_url(enrolment)
    assert url == f"/me/{sign_enrolment(enrolment)}/" and own_page_url(enrolment) == url  # stable


# Escaping

def test_a_script_name_is_text_on_the_own_page_and_the_invite_page(brand):
    live = brand.live(promoters=["PX"])
    Promoter.objects.filter(code="PX").update(name=XSS)
    own = html(Client().get(own_page_url(Enrolment.objects.get(programme__live=live))))
    invite = html(Client().get(f"/i/{live.public_id}/PX/"))
    for page in (own, invite):
        assert XSS_ESCAPED in page and XSS not in page


def test_a_script_name_typed_into_the_join_form_is_kept_as_text(brand):
    live = brand.live()
    client = Client()
    page = html(client.get(join(client, live, name=XSS)["Location"]))
    assert XSS_ESCAPED in page and XSS not in page


# The viewer relay

def invite_url(live, code="PA"):
    return f"/i/{live.public_id}/{code}/"


def stats(live, code="PA"):
    return PromoterStats.objects.get(live=live, promoter__code=code)


def test_the_invite_page_shows_the_live_and_sets_a_viewer_cookie(brand):
    live = brand.live(title="山茶花专场", announced_at=soon(), promoters=["PA"])
    client = english()
    response = client.get(invite_url(live))
    page = html(response)
    assert response.status_code == 200
    assert "山茶花专场" in page and brand.account.name in page and "推广员PA invites you" in page
    assert when_text(live.announced_at, brand.org, "en") in page
    assert "csrfmiddlewaretoken" in page and f"/i/{live.public_id}/PA/live.ics" in page
    cookie = response.cookies["ll_viewer"]
    assert cookie["httponly"] and cookie["samesite"] == "Lax" and int(cookie["max-age"]) >= 364 * 86400
    assert "ll_viewer" not in client.get(invite_url(live)).cookies  # kept, not replaced


def test_reserving_records_one_reservation_for_the_promoter_however_often(brand):
    live = brand.live(announced_at=soon(), promoters=["PA", "PB"])
    client = english()
    client.get(invite_url(live))
    viewer = relay.cookie_viewer(client.cookies["ll_viewer"].value)
    first = client.post(invite_url(live))
    assert first.status_code == 200 and "reservation is recorded" in html(first)
    client.post(invite_url(live))
    assert stats(live).reservations == 1 and stats(live, "PB").reservations == 0
    row = LiveViewer.objects.get(live=live)
    assert row.viewer == viewer and row.reserved and row.reserved_for.code == "PA"
    logged = Event.objects.get(live=live, type="reservation")
    assert (logged.eid, logged.source, logged.touchpoint, logged.promoter_code) == \
        (f"relay:{live.public_id}:{viewer}:reservation", "relay", "personal", "PA")


def test_the_openid_parameter_is_the_viewer(brand):
    live = brand.live(announced_at=soon(), promoters=["PA"])
    # Only as Liveloop signs it for this live (tests/security/test_viewer_ids.py: a bare one is not).
    openid = relay.sign_viewer(live, "o6_bmjrPTlm6_2sgVt7hMZOPfL2M")
    client = Client()
    assert "ll_viewer" not in client.get(invite_url(live) + f"?openid={openid}").cookies
    page = html(client.get(invite_url(live) + f"?openid={openid}"))
    assert f'action="/i/{live.public_id}/PA/?openid={openid}"' in page
    client.post(invite_url(live) + f"?openid={openid}")
    assert LiveViewer.objects.get(live=live).viewer == "o6_bmjrPTlm6_2sgVt7hMZOPfL2M"
    assert stats(live).reservations == 1


def test_an_odd_openid_falls_back_to_the_cookie(brand):
    live = brand.live(announced_at=soon(), promoters=["PA"])
    client = Client()
    client.get(invite_url(live))
    client.post(invite_url(live) + "?openid=" + "x" * 200)
    assert LiveViewer.objects.get(live=live).viewer == relay.cookie_viewer(client.cookies["ll_viewer"].value)


def test_reserving_hands_on_to_the_platforms_preview(brand):
    live = brand.live(announced_at=soon(), promoters=["PA"])
    live.preview_url = "https://channels.weixin.qq.com/preview/abc"
    live.save()
    response = Client().post(invite_url(live))
    assert response.status_code == 303 and response["Location"] == live.preview_url
    assert stats(live).reservations == 1


def test_a_cancelled_live_records_nothing(brand):
    live = brand.live(announced_at=soon(), promoters=["PA"])
    cancel_live(live)
    client = english()
    response = client.get(invite_url(live))
    assert response.status_code == 410 and "cancelled" in html(response)
    assert client.post(invite_url(live)).status_code == 410
    assert not Event.objects.filter(live=live, type="reservation").exists()


def test_an_ended_live_takes_no_reservations(brand):
    live = brand.live(promoters=["PA"])
    start_live(live)
    end_live(live)
    assert Client().post(invite_url(live)).status_code == 410
    assert not Event.objects.filter(live=live, type="reservation").exists()


def test_unknown_foreign_or_removed_invite_links_are_not_found(brand, outsider):
    live = brand.live(promoters=["PA"])
    brand.live(promoters=["PC"])
    foreign = outsider.live(promoters=["PZ"])
    client = Client()
    assert client.get("/i/Lnosuchlive/PA/").status_code == 404
    assert client.get(invite_url(live, "NOPE")).status_code == 404
    assert client.get(invite_url(live, "PC")).status_code == 404  # in another live's programme
    assert client.get(invite_url(foreign, "PA")).status_code == 404  # another org's live
    assert client.get(invite_url(live, "PZ")).status_code == 404  # another org's promoter
    assert client.get(invite_url(live, "PZ") + "live.ics").status_code == 404
    assert client.post(invite_url(live, "PZ")).status_code == 404
    Enrolment.objects.filter(programme__live=live).update(active=False)
    assert client.get(invite_url(live)).status_code == 404
    assert not Event.objects.filter(type="reservation").exists()


def test_the_calendar_file(brand):
    live = brand.live(title='双十二, 预热; 第一场\n山茶花', promoters=["PA"])
    response = Client().get(invite_url(live) + "live.ics")
    body = response.content.decode()
    assert response["Content-Type"].startswith("text/calendar")
    assert body.startswith("BEGIN:VCALENDAR\r\n") and body.endswith("END:VCALENDAR\r\n")
    assert "\n" not in body.replace("\r\n", "")
    lines = body.split("\r\n")
    assert "BEGIN:VEVENT" in lines and "END:VEVENT" in lines and "VERSION:2.0" in lines
    assert "DTSTART:20261120T120000Z" in lines and "DURATION:PT2H" in lines
    assert any(line.startswith("UID:") for line in lines) and any(re.fullmatch(r"DTSTAMP:\d{8}T\d{6}Z", l) for l in lines)
    unfolded = body.replace("\r\n ", "")
    assert "SUMMARY:双十二\\, 预热\\; 第一场\\n山茶花" in unfolded
    assert f"URL:http://testserver/i/{live.public_id}/PA/" in unfolded
    assert all(len(line.encode()) <= 75 for line in lines)
    live.preview_url = "https://channels.weixin.qq.com/preview/abc"
    live.save()
    assert "URL:https://channels.weixin.qq.com/preview/abc" in Client().get(invite_url(live) + "live.ics").content.decode()


# Pages as a phone reads them

@pytest.mark.parametrize("which", ["join", "me", "invite", "none"])
def test_phone_pages_have_lang_viewport_and_labels(brand, which):
    live = brand.live(promoters=["PA"])
    url = {"join": join_url(recruit_code(live)), "invite": invite_url(live), "none": "/me/",
           "me": own_page_url(Enrolment.objects.get(programme__live=live))}[which]
    page = html(Client().get(url))
    assert '<html lang="zh-Hans">' in page
    assert 'name="viewport" content="width=device-width' in page
    for tag in re.findall(r"<img[^>]*>", page):
        assert re.search(r'alt="[^"]+"', tag)
    for field_id in re.findall(r'<(?:input|select)[^>]*\bid="([^"]+)"', page):
        assert f'<label for="{field_id}">' in page
    with translation.override("zh-hans"):
        assert translation.gettext("Join as a promoter") in html(Client().get(join_url(recruit_code(live))))
