"""Viewer ids are claims: a reservation is made in a viewer's name only when Liveloop itself
signed that id for this live; otherwise the phone's own cookie is the viewer."""
from datetime import datetime, timedelta, timezone

from django.core import signing
from django.test import Client

from liveloop.events.models import LiveViewer
from liveloop.web.phone.relay import VIEWER_SALT, cookie_viewer, new_viewer, sign_viewer

VICTIM = "o6_victimOpenid0000000000001"


def soon():
    return datetime.now(timezone.utc) + timedelta(days=3)


def invite(live, openid=None, code="PA"):
    return f"/i/{live.public_id}/{code}/" + (f"?openid={openid}" if openid is not None else "")


def reserved_viewers(live):
    return set(LiveViewer.objects.filter(live=live, reserved=True).values_list("viewer", flat=True))


def test_a_bare_openid_does_not_reserve_as_that_viewer(brand):
    live = brand.live(announced_at=soon(), promoters=["PA"])
    phone = Client()
    phone.post(invite(live, VICTIM))
    assert reserved_viewers(live) == {cookie_viewer(phone.cookies["ll_viewer"].value)}  # the attacker's own phone
    assert VICTIM not in reserved_viewers(live)


def test_a_signed_openid_reserves_as_that_viewer(brand):
    live = brand.live(announced_at=soon(), promoters=["PA"])
    Client().post(invite(live, sign_viewer(live, VICTIM)))
    assert reserved_viewers(live) == {VICTIM}


def test_a_signature_for_another_live_or_organisation_does_not(brand, outsider):
    live = brand.live(announced_at=soon(), promoters=["PA"])
    other_live = brand.live(title="另一场", announced_at=soon(), promoters=["PA"])
    foreign_live = outsider.live(announced_at=soon(), promoters=["PA"])
    for token in (sign_viewer(other_live, VICTIM), sign_viewer(foreign_live, VICTIM)):
        Client().post(invite(live, token))
    assert VICTIM not in reserved_viewers(live)
    # Forged and tampered tokens: same payload under another salt, a changed viewer, junk.
    forged = signing.Signer(salt="another.salt").sign_object({"v": VICTIM, "o": live.org_id, "l": live.public_id})
    genuine = sign_viewer(live, "o6_someoneElse000000000000001")
    payload, signature = genuine.rsplit(":", 1)
    tampered = signing.Signer(salt=VIEWER_SALT).sign_object({"v": VICTIM, "o": live.org_id, "l": live.public_id})
    tampered = tampered.rsplit(":", 1)[0] + ":" + signature
    for token in (forged, tampered, "x" * 5000, ":", genuine.upper()):
        response = Client().post(invite(live, token))
        assert response.status_code in (200, 303), response.status_code
    assert VICTIM not in reserved_viewers(live)


def test_a_viewer_cookie_the_browser_chose_does_not_reserve_as_that_viewer(brand):
    live = brand.live(announced_at=soon(), promoters=["PA"])
    phone = Client()
    phone.cookies["ll_viewer"] = VICTIM  # someone's openid, typed into the cookie
    phone.post(invite(live))
    assert VICTIM not in reserved_viewers(live)
    assert reserved_viewers(live) == {cookie_viewer(phone.cookies["ll_viewer"].value)} != {None}
    # A signature for another value, or under another salt, is no better.
    for forged in (signing.Signer(salt="another.salt").sign(VICTIM), VICTIM + ":forged"):
        other = Client()
        other.cookies["ll_viewer"] = forged
        other.post(invite(live))
    assert VICTIM not in reserved_viewers(live)


def test_a_cookie_issued_before_cookies_were_signed_still_counts(brand):
    live = brand.live(announced_at=soon(), promoters=["PA"])
    old = new_viewer()  # what the cookie held, unsigned, before
    phone = Client()
    phone.cookies["ll_viewer"] = old
    phone.post(invite(live))
    assert reserved_viewers(live) == {old}
