"""Issue 19, item 8: the live page's promoter table pages with a page jump and a page size,
keeping search, sort and team; names sort by pinyin; the organic row is labelled and apart,
not counted as a promoter; the workbook's Teams sheet names the no-team row as the page does."""
import io
import re

import pytest
from django.utils import translation
from openpyxl import load_workbook

from liveloop.analytics.queries import organic_row, promoter_rows, promoter_table, team_rollup
from liveloop.promoters.models import Promoter, Team
from liveloop.actions.promoters import NewPromoter, enrol
from liveloop.rules.pinyin import KEY_LENGTH, pinyin_key
from liveloop.web import queries
from liveloop.web.tables import DEFAULT_PAGE_SIZE, clean_page, clean_page_size
from tests.actors import event
from tests.actors import html_of, rows_of, text

FIVE = ["张三", "李四", "王五", "赵六", "阿丽"]
FIVE_IN_PINYIN = ["阿丽", "李四", "王五", "张三", "赵六"]


# The key

def test_pinyin_order_of_common_surnames_not_code_point_order():
    assert sorted(FIVE) != FIVE_IN_PINYIN  # by code point 张 (U+5F20) comes before 李 (U+674E)
    assert sorted(FIVE, key=pinyin_key) == FIVE_IN_PINYIN
    # Syllable by syllable, as a dictionary: 李 li before 林 lin before 刘 liu; 李 before 李四.
    assert sorted(["刘", "林", "李四", "李"], key=pinyin_key) == ["李", "李四", "林", "刘"]
    # A surname read as a surname: 曾 is zeng (not ceng, which would put it before 陈 chen).
    assert sorted(["曾小贤", "陈", "张"], key=pinyin_key) == ["陈", "曾小贤", "张"]


@pytest.mark.parametrize("name", ["张三", "Amy 王", "🎉花花", "店长2号", "", "  ", "O'Brien-李", "x" * 80, "龘" * 80])
def test_the_key_is_lower_ascii_letters_and_digits_within_the_column(name):
    # Only [0-9a-z]: PostgreSQL's collation (any locale) and SQLite's byte order then agree.
    key = pinyin_key(name)
    assert re.fullmatch(r"[0-9a-z]*", key) and len(key) <= KEY_LENGTH


def test_save_keeps_the_key_even_with_update_fields(brand):
    promoter = Promoter.objects.create(org=brand.org, code="P1", name="张三")
    assert Promoter.objects.get(pk=promoter.pk).name_pinyin == pinyin_key("张三")
    promoter.name = "阿丽"
    promoter.save(update_fields=["name"])
    assert Promoter.objects.get(pk=promoter.pk).name_pinyin == pinyin_key("阿丽")
    team = Team.objects.create(org=brand.org, name="赵家店")
    assert Team.objects.get(pk=team.pk).name_pinyin == pinyin_key("赵家店")


# The query

@pytest.fixture
def five(brand):
    """Five promoters named for the pinyin test, in teams 张/阿, with sales, and an organic order."""
    live = brand.live()
    enrol(live.programme, [NewPromoter(name=name, code=f"P{i}", team=("张店" if i % 2 else "阿店"))
                           for i, name in enumerate(FIVE)])
    brand.send([event("o1", "order_paid", live.public_id, "V9", order="O1", amount=100)])
    return live


def test_the_table_sorts_names_by_pinyin_on_this_engine(five):
    names = [row["name"] for row in promoter_table(five, sort="name", organic=False)]
    assert names == FIVE_IN_PINYIN
    assert [row["name"] for row in promoter_table(five, sort="-name", organic=False)] == FIVE_IN_PINYIN[::-1]
    # A page is a LIMIT/OFFSET in the same order.
    assert [row["name"] for row in promoter_table(five, sort="name", organic=False)[2:4]] == FIVE_IN_PINYIN[2:4]
    # Teams too: 阿店 (a) before 张店 (zhang), though 张 (U+5F20) < 阿 (U+963F) by code point.
    assert [row["team"] for row in promoter_table(five, sort="team", organic=False)][0] == "阿店"
    # The API's list keeps the organic row first, as before.
    rows = promoter_rows(five, sort="name")
    assert rows[0]["promoter"] is None and [row["name"] for row in rows[1:]] == FIVE_IN_PINYIN


def test_the_organic_row_is_apart_and_not_counted(five, outsider):
    table = promoter_table(five, organic=False)
    assert table.count() == 5 and all(row["promoter"] is not None for row in table)
    assert promoter_table(five).count() == 6  # exports and the API keep it
    row = organic_row(five)
    assert row["promoter"] is None and row["gmv"] == 100 and row["net"] == 100
    # A new live has its organic row from the start, all zeros (and only its own organisation's).
    fresh = organic_row(outsider.live())
    assert fresh["promoter"] is None and fresh["reservations"] == 0 and fresh["gmv"] == 0


def test_team_lists_and_rollup_ties_are_in_pinyin_order(five, brand):
    assert queries.team_names(brand.org) == ["阿店", "张店"]
    # No sales: net and reservations tie, so the names decide.
    assert [row["team"] for row in team_rollup(five)["teams"]] == ["阿店", "张店"]


def test_the_programme_page_lists_promoters_in_pinyin_order(five, en):
    html = html_of(en.get(f"/lives/{five.public_id}/programme/"))
    positions = [html.index(name) for name in FIVE_IN_PINYIN]
    assert positions == sorted(positions)


# Paging rules

@pytest.mark.parametrize("raw,size", [("100", 100), ("200", 200), ("50", 50), (None, DEFAULT_PAGE_SIZE),
                                      ("7", DEFAULT_PAGE_SIZE), ("100000", DEFAULT_PAGE_SIZE),
                                      ("-100", DEFAULT_PAGE_SIZE), ("abc", DEFAULT_PAGE_SIZE), ("", DEFAULT_PAGE_SIZE)])
def test_a_page_size_not_in_the_list_is_the_default(raw, size):
    assert clean_page_size(raw) == size


@pytest.mark.parametrize("raw,page", [("0", 1), ("-3", 1), ("1", 1), ("3", 3), ("4", 3), ("99999999999999999999", 3),
                                      ("abc", 1), ("", 1), (None, 1), ("2.5", 1), (" 2 ", 2)])
def test_a_page_beyond_the_ends_is_the_nearest_end(raw, page):
    assert clean_page(raw, 3) == page


def test_an_empty_table_has_one_page():
    assert clean_page("5", 0) == 1


# The page

@pytest.fixture
def crowd(brand):
    """120 promoters (codes P000-P119; every third in 阿店, the rest without a team) and organic traffic."""
    live = brand.live(cap=1000)
    enrol(live.programme, [NewPromoter(name=f"推广员{i:03d}", code=f"P{i:03d}", team="阿店" if i % 3 == 0 else "")
                           for i in range(120)])
    brand.send([event("r1", "reservation", live.public_id, "V1")])
    return live


def promoter_codes(html):
    """The codes in the promoters' <tbody> (the organic row has its own, before it)."""
    table = re.search(r'<table class="[^"]*\bpromoters\b[^"]*">(.*?)</table>', html, re.S).group(1)
    body = table.split('<tbody>', 1)[1].split("</tbody>", 1)[0]
    return re.findall(r"<tr[^>]*>\s*<td>(P\d{3})</td>", body)


def test_pages_of_the_chosen_size(crowd, en):
    L = crowd.public_id
    html = html_of(en.get(f"/lives/{L}/?sort=code"))
    assert promoter_codes(html) == [f"P{i:03d}" for i in range(50)]
    assert "120 promoters" in text(html) and "121" not in text(html)
    assert 'name="per"' in html and '<option value="100">' in html
    html = html_of(en.get(f"/lives/{L}/?sort=code&per=100&page=2"))
    assert promoter_codes(html) == [f"P{i:03d}" for i in range(100, 120)]
    assert '<option value="100" selected>' in html
    html = html_of(en.get(f"/lives/{L}/?sort=code&per=200"))
    assert len(promoter_codes(html)) == 120 and 'rel="next"' not in html


@pytest.mark.parametrize("page,first", [("0", 0), ("-1", 0), ("3", 100), ("4", 100), ("999", 100), ("x", 0)])
def test_page_zero_and_beyond_the_last(crowd, en, page, first):
    html = html_of(en.get(f"/lives/{crowd.public_id}/?sort=code&page={page}"))
    assert promoter_codes(html)[0] == f"P{first:03d}"


def test_a_page_size_not_offered_is_the_default(crowd, en):
    html = html_of(en.get(f"/lives/{crowd.public_id}/?sort=code&per=1000"))
    assert len(promoter_codes(html)) == 50 and '<option value="50" selected>' in html


def test_a_page_jump_keeps_team_search_sort_and_size(crowd, en):
    L = crowd.public_id
    # 40 promoters in 阿店 (P000, P003, … P117): one page, the team and the sort in the jump form;
    # then page 2 of the search "推广员0" (P000-P099, 100 rows) at 50 a page, as htmx asks for it.
    html = html_of(en.get(f"/lives/{L}/?team=阿店&sort=-code&page=1"))
    assert promoter_codes(html) == [f"P{i:03d}" for i in range(117, -1, -3)]
    assert "40 promoters" in text(html)
    jump = re.search(r'<form method="get" action="[^"]*" class="inline page-jump">(.*?)</form>', html, re.S).group(1)
    assert 'name="team" value="阿店"' in jump and 'name="sort" value="-code"' in jump
    assert 'name="page"' in jump and 'max="1"' in jump

    html = html_of(en.get(f"/lives/{L}/", {"q": "推广员0", "sort": "-code", "per": "50", "page": "2"},
                          HTTP_HX_REQUEST="true", HTTP_HX_TARGET="promoter-table"))
    assert html.lstrip().startswith('<div id="promoter-table"')  # the fragment only
    assert promoter_codes(html) == [f"P{i:03d}" for i in range(49, -1, -1)]
    assert "100 promoters" in text(html)
    jump = re.search(r'class="inline page-jump">(.*?)</form>', html, re.S).group(1)
    assert 'name="q" value="推广员0"' in jump and 'name="sort" value="-code"' in jump
    # The previous-page link keeps the search, the sort and the size.
    previous = re.search(r'<a href="\?([^"]*)" rel="prev">', html).group(1).replace("&amp;", "&")
    assert set(previous.split("&")) == {"q=%E6%8E%A8%E5%B9%BF%E5%91%980", "sort=-code", "per=50", "page=1"}
    # The search form's hidden page size follows the table (out of band), so a new search keeps it.
    assert 'id="promoter-per" hx-swap-oob="true"' in html


def test_the_organic_row_is_labelled_and_not_counted_in_chinese(crowd, owner):
    html = html_of(owner.get(f"/lives/{crowd.public_id}/?page=2", HTTP_ACCEPT_LANGUAGE="zh-hans"))
    organic = re.search(r'<tbody class="organic">(.*?)</tbody>', html, re.S).group(1)
    assert "自然流量" in organic and "Organic" not in html
    assert "共 120 位推广员" in text(html) and "121" not in text(html)
    assert "每页行数" in html and "跳转" in html
    # A search or a team filter leaves the organic row out, as it has neither a name nor a team.
    html = html_of(owner.get(f"/lives/{crowd.public_id}/?q=P001", HTTP_ACCEPT_LANGUAGE="zh-hans"))
    assert 'class="organic"' not in html and "共 1 位推广员" in text(html)


def test_the_workbook_teams_sheet_names_the_no_team_row_as_the_page_does(crowd, owner):
    L = crowd.public_id
    page = html_of(owner.get(f"/lives/{L}/", HTTP_ACCEPT_LANGUAGE="zh-hans"))
    assert "无团队" in [row[0] for row in rows_of(page, "teams")]
    response = owner.get(f"/lives/{L}/report.xlsx", HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert response.status_code == 200
    book = load_workbook(io.BytesIO(response.content))
    with translation.override("zh-hans"):
        sheet = book[translation.gettext("Teams")]
    names = [row[0] for row in sheet.iter_rows(min_row=2, values_only=True)]
    assert names[:2] == ["阿店", "无团队"]
    no_team = next(row for row in sheet.iter_rows(min_row=2, values_only=True) if row[0] == "无团队")
    assert no_team[2] == 80  # promoters without a team


def test_a_foreign_live_answers_404_whatever_the_page(crowd, outsider, owner):
    assert owner.get(f"/lives/{outsider.live().public_id}/?page=2&per=100").status_code == 404
