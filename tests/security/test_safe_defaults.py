"""Safe by default: without any setting, an installation has its own secret key, no DEBUG, and
error pages in the page's language that show nothing of the code."""
import json
import os
import stat
import subprocess
import sys

import pytest
from django.test import Client
from django.urls import path

from liveloop.secretkey import FILE_NAME, installation_key

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def fresh_process(code: str, data_dir, **env) -> dict:
    """Runs `code` (which prints JSON) in a new process with no LIVELOOP_* setting but the data dir."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("LIVELOOP_")}
    script = "import json, django; from django.conf import settings; django.setup()\n" + code
    out = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True,
                         env={**clean, "DJANGO_SETTINGS_MODULE": "liveloop.settings",
                              "LIVELOOP_DATA_DIR": str(data_dir), **env})
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_the_key_file_is_made_once_private_and_reused(tmp_path):
    first = installation_key(tmp_path)
    key_file = tmp_path / FILE_NAME
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert len(first) >= 50 and installation_key(tmp_path) == first
    assert [p.name for p in tmp_path.iterdir()] == [FILE_NAME]  # no draft left behind
    os.chmod(key_file, 0o644)  # restored from a backup with looser rights
    assert installation_key(tmp_path) == first and stat.S_IMODE(key_file.stat().st_mode) == 0o600


def test_two_installs_get_different_keys(tmp_path):
    assert installation_key(tmp_path / "one") != installation_key(tmp_path / "two")


def test_an_empty_key_file_is_refused_not_used(tmp_path):
    (tmp_path / FILE_NAME).write_text("\n")
    with pytest.raises(RuntimeError, match="no usable secret key"):
        installation_key(tmp_path)


def test_workers_starting_together_agree_on_one_key(tmp_path):
    code = "from liveloop.secretkey import installation_key; import sys; print(installation_key(sys.argv[1]))"
    workers = [subprocess.Popen([sys.executable, "-c", code, str(tmp_path)], cwd=ROOT, stdout=subprocess.PIPE,
                                text=True) for _ in range(6)]
    keys = {worker.communicate()[0].strip() for worker in workers}
    assert len(keys) == 1 and keys == {(tmp_path / FILE_NAME).read_text().strip()}


def test_default_settings_use_the_installation_key_and_no_debug(tmp_path):
    code = "print(json.dumps({'key': settings.SECRET_KEY, 'debug': settings.DEBUG}))"
    first = fresh_process(code, tmp_path)
    assert first == {"key": (tmp_path / FILE_NAME).read_text().strip(), "debug": False}
    assert fresh_process(code, tmp_path) == first  # the next start reads the same key
    assert "not-secret" not in first["key"]
    assert fresh_process(code, tmp_path, LIVELOOP_DEBUG="1")["debug"] is True  # only when asked
    given = fresh_process(code, tmp_path / "other", LIVELOOP_SECRET_KEY="k" * 50)
    assert given["key"] == "k" * 50 and not (tmp_path / "other" / FILE_NAME).exists()


def test_a_404_under_default_settings_shows_no_url_patterns(tmp_path):
    code = ("from django.test import Client\n"
            "r = Client().get('/no/such/page/')\n"
            "print(json.dumps({'status': r.status_code, 'html': r.content.decode(), 'debug': settings.DEBUG}))")
    answer = fresh_process(code, tmp_path)
    assert answer["status"] == 404 and answer["debug"] is False
    html = answer["html"]
    assert "页面不存在" in html
    for internal in ("URLconf", "api/v1/", "wechat/", "liveloop.urls", "Request URL", "Page not found"):
        assert internal not in html


def boom(request):
    raise ZeroDivisionError("secret internals of the failing view")


urlpatterns = [path("boom/", boom)]


@pytest.mark.urls(__name__)
@pytest.mark.parametrize("language, words", [("zh-hans", "出错了"), ("en", "Something went wrong")])
def test_a_500_page_has_no_traceback(db, settings, language, words):
    client = Client(raise_request_exception=False)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = language
    response = client.get("/boom/")
    assert response.status_code == 500
    html = response.content.decode()
    assert words in html
    for internal in ("Traceback", "ZeroDivisionError", "secret internals", "boom", "File \""):
        assert internal not in html


@pytest.mark.parametrize("url", ["/lives/Lnothing/", "/i/Lnothing/NOCODE/", "/m/forged-link/"])
def test_an_unknown_object_is_the_chinese_404_without_its_reason(owner, url):
    response = owner.get(url)
    assert response.status_code == 404
    html = response.content.decode()
    assert "页面不存在" in html and "unknown" not in html and "Http404" not in html


def test_a_nul_in_the_address_is_the_400_page_in_the_chosen_language(client):
    assert "请求无法处理" in client.get("/lives/", {"q": "a\x00b"}).content.decode()
    client.cookies["django_language"] = "en"
    response = client.get("/lives/", {"q": "a\x00b"})
    assert response.status_code == 400 and "Bad request" in response.content.decode()


def test_a_stale_form_is_the_403_page_without_the_failed_check(db):
    response = Client(enforce_csrf_checks=True).post("/login/", {"username": "x", "password": "y"})
    assert response.status_code == 403
    html = response.content.decode()
    assert "表单已过期" in html and "CSRF" not in html
