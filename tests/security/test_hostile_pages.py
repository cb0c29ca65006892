"""Hostile text in pages, exports and posters; CSRF on every form; headers and cookies.

Every name a person types (promoter, live title, team/store, region, account, brand) is set to
markup or to a spreadsheet formula, then every page and export that shows it is read back.
"""
import csv
import io
import os
import subprocess
import sys
import zipfile

import pytest
from django.test import Client
from openpyxl import load_workbook

from liveloop.orgs.models import Member, Organisation
from liveloop.orgs.services import add_member, create_org
from liveloop.promoters.links import own_page_url
from liveloop.promoters.models import Enrolment, Team
from liveloop.actions.promoters import NewPromoter, enrol
from tests.actors import event
from tests.security.routes import DATA, MATRIX, PATH_VALUES, ROUTES, route_url
from tests.security.world import mine, promoter_client  # noqa: F401

SCRIPT = '<script>alert("x")</script><img src=x onerror=alert(1)>'
# What spreadsheets run as formulas, and the tab/CR variants that some strip before looking.
FORMULAS = ["=HYPERLINK(\"http://evil.example\",\"点我\")", "+1+cmd|' /C calc'!A0", "-2+3", "@SUM(A1:A9)",
            "\t=1+1", "\r=1+1"]
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


@pytest.fixture
def hostile(brand):
    """The brand's names are all markup or formulas."""
    brand.account.name = "=cmd|' /C calc'!A0" + SCRIPT[:20]
    brand.account.save()
    live = brand.live(title=SCRIPT + "直播")
    Team.objects.create(org=brand.org, name="@SUM(1+1)" + SCRIPT[:8], region="-1+1<b>区</b>")
    people = [NewPromoter(name=SCRIPT, code="X0", team="@SUM(1+1)" + SCRIPT[:8])]
    people += [NewPromoter(name=formula, code=f"F{n}") for n, formula in enumerate(FORMULAS)]
    enrol(live.programme, people)
    answer = brand.send([event(f"e{n}", "reservation", live.public_id, f"VIEWER{n:04d}", promoter=p.code)
                         for n, p in enumerate(people)]).json()
    assert answer["accepted"] == len(people)
    add_member(brand.org, "boss", Member.OWNER)
    client = Client()
    client.force_login(Member.objects.get(org=brand.org, user__username="boss").user)
    return brand, live, client


def _page(client, url) -> str:
    answer = client.get(url)
    assert answer.status_code == 200, (url, answer.status_code)
    return answer.content.decode()


def test_markup_in_names_stays_text_on_every_page(hostile):
    brand, live, client = hostile
    enrolment = Enrolment.objects.get(programme=live.programme, promoter__code="X0")
    phone = Client()
    pages = [f"/lives/{live.public_id}/", f"/lives/{live.public_id}/programme/", "/", "/calendar/?month=2026-11",
             f"/matrix/?date=2026-11-20", f"/lives/{live.public_id}/room/", f"/lives/{live.public_id}/planner/",
             f"/lives/{live.public_id}/cancel/", f"/lives/{live.public_id}/edit/", "/promoters/", "/promoters/X0/",
             "/promoters/?q=script"]
    seen = 0
    for url in pages:
        html = _page(client, url)
        # No tag of ours: the text "onerror=alert" may be there, but never inside a real <img>.
        assert "<script>alert" not in html and "<img src=x" not in html, url
        seen += "&lt;script&gt;alert" in html
    assert seen >= 5  # the names were on the pages, escaped
    for url in (own_page_url(enrolment), f"/i/{live.public_id}/X0/", f"/join/{live.programme.join_codes.first().token}/"):
        html = _page(phone, url)
        assert "<script>alert" not in html and "<img src=x" not in html, url
        assert "&lt;script&gt;alert" in html, url


def test_markup_in_names_stays_text_in_the_calendar_file_and_the_poster(hostile, monkeypatch):
    brand, live, client = hostile
    ics = Client().get(f"/i/{live.public_id}/X0/live.ics")
    assert ics.status_code == 200 and ics["Content-Type"].startswith("text/calendar")
    drawn = {}
    from liveloop.web.phone import views

    real = views.draw_poster

    def spy(**kwargs):
        drawn.update(kwargs)
        return real(**kwargs)

    monkeypatch.setattr(views, "draw_poster", spy)
    phone = Client()
    enrolment = Enrolment.objects.get(programme=live.programme, promoter__code="X0")
    phone.get(own_page_url(enrolment))
    poster = phone.get("/me/poster.png")
    assert poster.status_code == 200 and poster["Content-Type"] == "image/png"
    assert poster.content.startswith(b"\x89PNG")
    # Drawn as the characters given: a PNG has no markup to run.
    assert drawn["promoter_name"] == SCRIPT and drawn["title"] == SCRIPT + "直播"


def _csv_cells(body: bytes) -> list[str]:
    return [cell for row in csv.reader(io.StringIO(body.decode("utf-8-sig"))) for cell in row]


def _assert_csv_safe(body: bytes, where: str) -> int:
    cells = _csv_cells(body)
    for cell in cells:
        if cell[:1] in FORMULA_STARTS:
            # A minus sign is fine on a number, never on text.
            float(cell)
    return len(cells)


def _assert_xlsx_safe(body: bytes, where: str) -> int:
    with zipfile.ZipFile(io.BytesIO(body)) as archive:
        for name in archive.namelist():
            if name.startswith("xl/worksheets/"):
                assert b"<f>" not in archive.read(name) and b"<f " not in archive.read(name), (where, name)
    book = load_workbook(io.BytesIO(body))
    count = 0
    for sheet in book.worksheets:
        for row in sheet.iter_rows():
            for cell in row:
                count += 1
                assert cell.data_type != "f", (where, cell.coordinate, cell.value)
    return count


def _agency_with_hostile_client(brand):
    agency, _ = create_org("代运营", kind=Organisation.AGENCY)
    Organisation.objects.filter(pk=brand.org.pk).update(agency=agency, name="=1+1" + SCRIPT[:10])
    add_member(agency, "agent", Member.OWNER)
    client = Client()
    client.force_login(Member.objects.get(org=agency, user__username="agent").user)
    return client


def test_every_export_neutralises_formulas(hostile):
    brand, live, client = hostile
    exports = {
        "live CSV": f"/lives/{live.public_id}/promoters.csv",
        "live XLSX": f"/lives/{live.public_id}/promoters.xlsx",
        "matrix CSV": "/matrix/matrix.csv?date=2026-11-20",
        "matrix XLSX": "/matrix/matrix.xlsx?date=2026-11-20",
        "report XLSX": f"/lives/{live.public_id}/report.xlsx",
        "trends CSV": "/trends/trends.csv",
        "trends XLSX": "/trends/trends.xlsx",
    }
    agent = _agency_with_hostile_client(brand)
    checked = 0
    for where, url in exports.items():
        answer = client.get(url)
        assert answer.status_code == 200, where
        assert answer["Content-Disposition"].startswith("attachment")
        checked += (_assert_csv_safe if "CSV" in where else _assert_xlsx_safe)(answer.content, where)
    for where, url in {"scorecard CSV": "/agency/scorecards/scorecard.csv?month=2026-11",
                       "scorecard XLSX": "/agency/scorecards/scorecard.xlsx?month=2026-11"}.items():
        answer = agent.get(url)
        assert answer.status_code == 200, where
        checked += (_assert_csv_safe if "CSV" in where else _assert_xlsx_safe)(answer.content, where)
    api = brand.api.get(f"/api/v1/lives/{live.public_id}/promoters?format=csv")
    assert api.status_code == 200
    checked += _assert_csv_safe(api.content, "API CSV")
    # The formulas are still there as text, behind an apostrophe: nothing was dropped.
    cells = _csv_cells(client.get(exports["live CSV"]).content)
    for formula in FORMULAS:
        assert "'" + formula in cells
    assert SCRIPT in cells  # CSV is data: the markup is kept as typed
    book = load_workbook(io.BytesIO(client.get(exports["live XLSX"]).content))
    values = {cell.value for row in book.active.iter_rows() for cell in row}
    # Text cells, shown as typed, never evaluated (XML has no bare CR: openpyxl writes it as LF).
    assert {f for f in FORMULAS if "\r" not in f} <= values
    print(f"\n[security] exports: 10 formats, {checked} cells checked for formulas")


def test_every_post_without_a_csrf_token_is_refused(mine):
    """Client(enforce_csrf_checks=True) is a browser on another site posting into ours."""
    refused = 0
    route_of = {r.name: r for r in ROUTES}
    for name in MATRIX:
        route = route_of[name]
        url = route_url(route, {k: mine.objects[PATH_VALUES[k]] for k in route.kwargs})
        data = DATA.get(name, lambda side: {})(mine)
        for who in ("owner", "promoter", "anonymous"):
            client = Client(enforce_csrf_checks=True)
            if who == "owner":
                client.force_login(Member.objects.get(org=mine.org, role=Member.OWNER, user__username__startswith="zi_jia_").user)
            elif who == "promoter":
                client.cookies.update(promoter_client(mine).cookies)
            answer = client.post(url, data)
            assert answer.status_code == 403, (name, who, answer.status_code)
            refused += 1
    print(f"\n[security] CSRF: {refused} token-less posts to {len(MATRIX)} forms refused")


PAGES_FOR_HEADERS = ["/login/", "/api/v1/openapi.json", "/api/v1/docs", "/me/", "/join/nothing/"]


@pytest.mark.parametrize("url", PAGES_FOR_HEADERS)
def test_security_headers(client, db, url):
    answer = client.get(url)
    csp = answer["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "'unsafe-inline'" not in csp.split("script-src")[1].split(";")[0]
    assert "frame-ancestors 'none'" in csp and "object-src 'none'" in csp
    assert answer["X-Content-Type-Options"] == "nosniff"
    assert answer["Referrer-Policy"] == "same-origin"
    assert answer["X-Frame-Options"] == "DENY"


def test_no_inline_script_in_any_template():
    """The CSP forbids inline script; a template that needs one would break silently in browsers."""
    import re
    from pathlib import Path

    import liveloop

    root = Path(liveloop.__file__).parent
    offenders = []
    for template in root.rglob("templates/**/*.html"):
        text = template.read_text()
        for tag in re.findall(r"<script\b[^>]*>", text):
            if "src=" not in tag and "application/json" not in tag:
                offenders.append((template.name, tag))
        if re.search(r"\son[a-z]+\s*=", text) or "javascript:" in text:
            offenders.append((template.name, "event handler attribute"))
    assert not offenders


def _settings_in(env: dict) -> dict:
    """The settings a fresh process computes from env (production is decided at import)."""
    code = ("import json, django; from django.conf import settings; django.setup(); "
            "print(json.dumps({k: getattr(settings, k, None) for k in ("
            "'DEBUG', 'SESSION_COOKIE_SECURE', 'CSRF_COOKIE_SECURE', 'SESSION_COOKIE_HTTPONLY', "
            "'CSRF_COOKIE_HTTPONLY', 'SESSION_COOKIE_SAMESITE', 'CSRF_COOKIE_SAMESITE', 'SECURE_HSTS_SECONDS', "
            "'SECURE_CONTENT_TYPE_NOSNIFF', 'X_FRAME_OPTIONS', 'SECURE_REFERRER_POLICY')}))")
    clean = {k: v for k, v in os.environ.items() if not k.startswith("LIVELOOP_")}
    out = subprocess.run([sys.executable, "-c", code], env={**clean, "DJANGO_SETTINGS_MODULE": "liveloop.settings", **env},
                         capture_output=True, text=True, check=True)
    import json

    return json.loads(out.stdout)


def test_production_cookies_are_secure_and_hsts_is_on():
    prod = _settings_in({"LIVELOOP_ENV": "production", "LIVELOOP_SECRET_KEY": "x" * 50})
    assert prod["DEBUG"] is False
    assert prod["SESSION_COOKIE_SECURE"] and prod["CSRF_COOKIE_SECURE"]
    assert prod["SESSION_COOKIE_HTTPONLY"] and prod["CSRF_COOKIE_HTTPONLY"]
    assert prod["SESSION_COOKIE_SAMESITE"] == prod["CSRF_COOKIE_SAMESITE"] == "Lax"
    assert prod["SECURE_HSTS_SECONDS"] >= 180 * 24 * 3600


def test_development_stays_on_plain_http():
    """`make demo` serves http://127.0.0.1:8000: Secure cookies would never come back, HSTS would stick."""
    dev = _settings_in({})
    assert not dev["SESSION_COOKIE_SECURE"] and not dev["CSRF_COOKIE_SECURE"]
    assert dev["SECURE_HSTS_SECONDS"] == 0


def test_hsts_is_sent_on_https_in_production(client, settings):
    settings.SECURE_HSTS_SECONDS = 31536000
    answer = client.get("/login/", secure=True)
    assert answer["Strict-Transport-Security"].startswith("max-age=31536000")


def test_the_own_page_and_viewer_cookies_are_httponly_and_samesite(mine):
    phone = Client()
    answer = phone.get(own_page_url(mine.enrolment))
    cookie = answer.cookies["ll_promoter"]
    assert cookie["httponly"] and cookie["samesite"] == "Lax"
    answer = Client().get(f"/i/{mine.live.public_id}/{mine.objects['promoter_code']}/")
    cookie = answer.cookies["ll_viewer"]
    assert cookie["httponly"] and cookie["samesite"] == "Lax"
