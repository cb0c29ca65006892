"""A promoter who is a linked 推客 of the live's WeChat notice: their poster carries WeChat's
official reservation code instead of the invite link's, and the invite page shows it (served
only through the invite link); without one, both stay as before."""
import io

from django.test import Client
from PIL import Image, ImageChops, ImageOps

from liveloop.integrations.tuike import links, qr
from liveloop.promoters import poster
from liveloop.promoters.links import own_page_url
from liveloop.promoters.models import Enrolment, Promoter
from tests.actors import official_material


def own_client(live, code):
    client = Client()
    client.get(own_page_url(Enrolment.objects.get(programme__live=live, promoter__code=code)))
    return client


def qr_region(png: bytes, official: Image.Image) -> tuple[Image.Image, Image.Image]:
    """The poster's code area (no cover: the plain layout) and the official code as drawn there."""
    layout = poster.PLAIN
    drawn = ImageOps.contain(official.convert("RGB"), (layout.qr_box, layout.qr_box), Image.Resampling.NEAREST)
    left = (poster.WIDTH - drawn.width) // 2
    top = layout.card_top + 30 + (layout.qr_box - drawn.height) // 2
    area = Image.open(io.BytesIO(png)).convert("RGB").crop((left, top, left + drawn.width, top + drawn.height))
    return area, drawn


def test_the_poster_carries_the_official_code_when_synced(brand):
    live = brand.live(promoters=["PA"])
    material = official_material(live, Promoter.objects.get(org=brand.org, code="PA"))
    official = qr.pillow(material.qr_image)
    client = own_client(live, "PA")
    with_official = client.get("/me/poster.png").content
    area, drawn = qr_region(with_official, official)
    assert ImageChops.difference(area, drawn).getbbox() is None
    # Unlinked from the notice: the invite link's own code again.
    links.unlink_notice(live)
    plain = client.get("/me/poster.png").content
    area, drawn = qr_region(plain, official)
    assert ImageChops.difference(area, drawn).getbbox() is not None


def test_the_own_page_shows_wechats_count(brand):
    live = brand.live(promoters=["PA", "PB"])
    material = official_material(live, Promoter.objects.get(org=brand.org, code="PA"))
    material.reservation_count = 17
    material.save()
    page = own_client(live, "PA").get("/me/").content.decode()
    assert "微信统计：你带来了 17 个预约。" in page and "微信官方预约码" in page
    assert "微信统计" not in own_client(live, "PB").get("/me/").content.decode()


def test_the_invite_page_shows_the_official_code_through_the_invite_link_only(brand, outsider):
    live = brand.live(promoters=["PA", "PB"])
    official_material(live, Promoter.objects.get(org=brand.org, code="PA"))
    page = Client().get(f"/i/{live.public_id}/PA/").content.decode()
    assert f"/i/{live.public_id}/PA/wechat-qr.png" in page
    answer = Client().get(f"/i/{live.public_id}/PA/wechat-qr.png")
    assert answer.status_code == 200 and answer["Content-Type"] == "image/png"
    assert Image.open(io.BytesIO(answer.content)).format == "PNG"
    # PB has none; another organisation's live never serves this one's.
    assert "wechat-qr.png" not in Client().get(f"/i/{live.public_id}/PB/").content.decode()
    assert Client().get(f"/i/{live.public_id}/PB/wechat-qr.png").status_code == 404
    theirs = outsider.live(promoters=["PA"])
    assert Client().get(f"/i/{theirs.public_id}/PA/wechat-qr.png").status_code == 404
