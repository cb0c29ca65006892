"""Setting up where an organisation's notices go."""
import secrets
from urllib.parse import urlparse

from liveloop.notify.models import Channel


class ChannelError(ValueError):
    pass


def add_webhook(org, *, name: str, url: str, secret: str = "") -> Channel:
    """A webhook channel; without a secret one is made (shown once by the caller, kept here
    to sign every request)."""
    parsed = urlparse(url)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise ChannelError(f"not an http(s) URL: {url!r}")
    return Channel.objects.create(org=org, kind=Channel.WEBHOOK, name=name, url=url,
                                  secret=secret or secrets.token_hex(32))


def add_wecom(org, *, name: str, corp_id: str, agent_id: str, corp_secret: str) -> Channel:
    if not (corp_id and corp_secret):
        raise ChannelError("a WeCom channel needs the corp id and the application's secret")
    if not agent_id.isdigit():
        raise ChannelError(f"the WeCom agent id is a number, not {agent_id!r}")
    return Channel.objects.create(org=org, kind=Channel.WECOM, name=name, corp_id=corp_id,
                                  agent_id=agent_id, corp_secret=corp_secret)


def set_enabled(org, channel_id: int, enabled: bool) -> bool:
    return bool(Channel.objects.for_org(org).filter(pk=channel_id).update(enabled=enabled))
