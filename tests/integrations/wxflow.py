"""Playing WeChat's side of web login against the emulator, for the Django test client."""
import json
import urllib.parse
import urllib.request

from liveloop.integrations.models import WechatApps

WX_UA = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
         "Mobile/15E148 MicroMessenger/8.0.47(0x18002f2c) NetType/WIFI Language/zh_CN")
OA_APPID, OA_SECRET = "wx0fa11ce5e0a1b2c3", "oa-secret-for-tests"
MP_APPID, MP_SECRET = "wx6d1n1a4p9c0d3e4f", "mp-secret-for-tests"
FINDER = "sphAbCdEf123456"


def connect(org, emulator, *, mini_program=True) -> WechatApps:
    """The organisation's official account (and mini-program), known to the emulator too."""
    emulator.store.users.apps.update({OA_APPID: OA_SECRET, MP_APPID: MP_SECRET})
    values = {"oa_appid": OA_APPID, "oa_secret": OA_SECRET}
    if mini_program:
        values.update(mp_appid=MP_APPID, mp_secret=MP_SECRET, finder_username=FINDER)
    return WechatApps.objects.create(org=org, **values)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def authorize(url: str, user: str) -> str:
    """What the emulator (as WeChat) answers the authorize URL for this WeChat user: the
    callback URL with ?code&state."""
    request = urllib.request.Request(url.split("#")[0], headers={"Cookie": f"emu_wx_user={user}"})
    opener = urllib.request.build_opener(_NoRedirect)
    try:
        opener.open(request, timeout=10)
    except urllib.error.HTTPError as error:
        assert error.code == 302, error.read()
        return error.headers["Location"]
    raise AssertionError("authorize did not redirect")


def local(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def log_in(client, page: str, user: str):
    """Open `page` inside WeChat as `user`, through the login; the final response."""
    response = client.get(page, HTTP_USER_AGENT=WX_UA)
    assert response.status_code == 302, response.status_code
    back = authorize(response["Location"], user)
    response = client.get(local(back), HTTP_USER_AGENT=WX_UA)
    assert response.status_code == 302, response.content
    return client.get(response["Location"], HTTP_USER_AGENT=WX_UA)


def wx_login_code(emulator, user: str, appid: str = MP_APPID) -> str:
    """What wx.login gives the mini-program of `user`."""
    request = urllib.request.Request(f"{emulator.base_url}/emulator/wx-login", method="POST",
                                     data=json.dumps({"user": user, "appid": appid}).encode(),
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as answer:
        return json.loads(answer.read())["code"]
