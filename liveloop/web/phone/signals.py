"""The device and network keys a reservation made on our own invite page carries (attrs.device,
attrs.net, docs/events.md), from which rules.fraud finds bursts of reservations.

Both are keyed hashes (HMAC-SHA256 with SECRET_KEY, salted per organisation so two brands'
keys of one phone do not match), cut to 32 hex characters: equal inputs give equal keys, and
neither the address nor the cookie can be read back from the log.
"""
from django.utils.crypto import salted_hmac

from liveloop.web.phone.relay import VIEWER_COOKIE, cookie_viewer
from liveloop.orgs.signin import client_ip

KEY_LENGTH = 32  # 128 bits: no accidental collisions, well within the contract's 64


def _key(kind: str, org_id: int, value: str) -> str:
    return salted_hmac(f"liveloop.fraud.{kind}.{org_id}", value, algorithm="sha256").hexdigest()[:KEY_LENGTH]


def reservation_keys(request, org_id: int, viewer: str) -> dict:
    """attrs for the reservation event. The device is the browser's viewer cookie, which stays
    when a page is asked for as many viewers (other `openid`s); on a first visit, the id the
    cookie is about to get. The network is the client address as the rate limits see it: a
    whole IPv4 address (a /24 would join a carrier NAT pool's unrelated neighbours) or an IPv6
    /64 (one subscriber line). An unreadable address gives no network key."""
    device = cookie_viewer(request.COOKIES.get(VIEWER_COOKIE)) or viewer
    keys = {"device": _key("device", org_id, device)}
    address = client_ip(request)
    if address != "unknown":
        keys["net"] = _key("net", org_id, address)
    return keys
