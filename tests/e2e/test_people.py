"""The promoter directory and a promoter's page in the browser, in Chinese: found by the last four
digits from the search box, no sideways scroll at 1366 px or on a 390 px phone, and disabling
in one live from the person's page."""
from datetime import timedelta

import pytest

from liveloop.promoters.models import Enrolment
from liveloop.actions.promoters import NewPromoter, enrol
from tests.actors import EVENING, event
from tests.e2e.browser import look, operator_page

pytestmark = pytest.mark.e2e

WIDE, NARROW = {"width": 1366, "height": 900}, {"width": 390, "height": 844}
OVERFLOW = "() => document.documentElement.scrollWidth - window.innerWidth"


def test_find_by_last_four_and_act_from_the_page(contexts, brand):
    first = brand.live(title="周一直播 🌸 春季新品首发，导购专属福利")
    second = brand.live(title="周三直播", announced_at=EVENING + timedelta(days=2))
    enrol(first.programme, [NewPromoter(name="张三", code="P1", phone="13812345678", team="成都太古里旗舰店"),
                            NewPromoter(name="李四", code="P2", phone="13900001111", team="二号店")])
    enrol(second.programme, [NewPromoter(name="张三", code="P1")])
    brand.send([event("a1", "order_paid", first.public_id, "V1", promoter="P1", order="O1", amount=1234500)])
    desk = operator_page(contexts, brand.org, language="zh-hans")

    for size in (WIDE, NARROW):
        desk.set_viewport_size(size)
        desk.goto("/promoters/")
        assert desk.evaluate(OVERFLOW) <= 0, ("directory", size)
        look(desk, f"operator-promoters-{size['width']}-zh")
    desk.set_viewport_size(WIDE)
    desk.get_by_label("搜索").fill("尾号5678")
    desk.get_by_label("搜索").press("Enter")
    desk.wait_for_url("**q=*")
    rows = desk.locator("table.directory tbody tr")
    assert rows.count() == 1 and "张三" in rows.first.inner_text() and "¥12,345.00" in rows.first.inner_text()
    rows.first.get_by_role("link", name="张三").click()
    desk.wait_for_url("**/promoters/P1/")

    for size in (WIDE, NARROW):
        desk.set_viewport_size(size)
        desk.reload()
        assert desk.evaluate(OVERFLOW) <= 0, ("promoter page", size)
        look(desk, f"operator-promoter-{size['width']}-zh")
    desk.set_viewport_size(WIDE)
    desk.locator("table.promoter-lives tbody tr", has_text="周三直播").get_by_role("button", name="停用").click()
    desk.wait_for_load_state("load")
    assert desk.locator("table.promoter-lives tbody tr", has_text="周三直播").get_by_role("button", name="启用").count() == 1
    assert not Enrolment.objects.get(programme=second.programme, promoter__code="P1").active
    assert Enrolment.objects.get(programme=first.programme, promoter__code="P1").active
