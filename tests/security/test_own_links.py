"""Issue 14: a phone number is no credential, own-page links are.

The reproduction was: promoter A's phone typed into the join form of another of the brand's
programmes (no cookie) answered 302 to A's own page (name, balances, statements, the links of
A's other lives) and enrolled A as a side effect, and numbers could be tried in bulk. Here a
known number only ever gets "prove it's you"; proof is A's own-page cookie, a link the operator
re-issued, or a one-time code sent through the brand's notice channel. Links are revocable per
person, and tokens stay out of the logs.
"""
import io
import logging
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from datetime import timedelta

import pytest
import requests
from django.db import IntegrityError, transaction
from django.test import Client

from liveloop.notify.models import Channel, Notice
from liveloop.orgs.models import AuditEntry, Member
from liveloop.orgs.services import add_member
from liveloop.actions import proof
from liveloop.promoters.links import own_page_url, sign_enrolment
from liveloop.promoters.models import Enrolment, JoinCode, ProofCode, Promoter, phone_match
from liveloop.actions.promoters import NewPromoter, enrol, find_promoter_by_phone
from liveloop.logredact import REDACTED, RedactFilter, redact

A_PHONE = "13912345678"
A_NAME = "甲推广员本人"
A_CODE = "PAAAAAA"

SMALL = {"join": {"ip": "100/h", "viewer": "100/h", "phone": "3/h"},
         "join_code": {"ip": "100/h", "viewer": "100/h", "phone": "2/h"},
         "join_verify": {"ip": "100/h", "viewer": "100/h", "phone": "100/h"},
         "own": {"ip": "100/h", "viewer": "100/h"}, "invite": {"ip": "100/h", "viewer": "100/h"}}


def recruit(live) -> JoinCode:
    return JoinCode.objects.get(programme__live=live, single_use=False)


def body(response) -> str:
    return response.content.decode()


def without_csrf(page: str) -> str:
    return re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", page)


@pytest.fixture
def a_world(brand):
    """Promoter A in live 1 (with money on their page), and live 2 of the same brand recruiting."""
    first = brand.live(title="第一场")
    second = brand.live(title="第二场")
    enrol(first.programme, [NewPromoter(name=A_NAME, phone=A_PHONE, code=A_CODE)])
    a = Promoter.objects.get(org=brand.org, code=A_CODE)
    return {"first": first, "second": second, "a": a,
            "enrolment": Enrolment.objects.get(programme=first.programme, promoter=a)}


@pytest.fixture
def channel(brand):
    # Never reached in these tests (no worker runs): what matters is that the brand has one.
    return Channel.objects.create(org=brand.org, kind=Channel.WEBHOOK, name="短信网关",
                                  url="http://127.0.0.1:9/hook", secret="s" * 32)


def join(client, live, phone=A_PHONE, name="冒名的人"):
    return client.post(f"/join/{recruit(live).token}/", {"name": name, "phone": phone})


def ask_code(client, live, phone=A_PHONE):
    return client.post(f"/join/{recruit(live).token}/code/", {"phone": phone})


def send_code(client, live, phone=A_PHONE, code="000000"):
    return client.post(f"/join/{recruit(live).token}/verify/", {"phone": phone, "code": code})


def sent_code(org, promoter) -> str:
    """The code as the brand's channel would deliver it (the outbox row)."""
    return Notice.objects.for_org(org).get(kind=Notice.PROOF_CODE, recipient=promoter.code).payload["code"]


def a_markers(world) -> list[str]:
    return [A_NAME, A_CODE, own_page_url(world["enrolment"]), sign_enrolment(world["enrolment"])]


# The reproduction ------------------------------------------------------------------------------

@pytest.mark.parametrize("phone", [A_PHONE, "+86 139-1234-5678"])
def test_a_known_phone_in_another_programmes_form_opens_nothing(a_world, phone):
    stranger = Client()
    response = join(stranger, a_world["second"], phone=phone)
    page = body(response)
    assert response.status_code == 409
    assert "这个手机号已经属于一位推广员" in page  # Chinese first: what to do, in plain words
    assert not any(marker in page for marker in a_markers(a_world))
    assert "ll_promoter" not in response.cookies
    assert not Enrolment.objects.filter(programme=a_world["second"].programme).exists()
    # …and the phone got no cookie that /me/ would honour.
    assert A_NAME not in body(stranger.get("/me/"))
    a = Promoter.objects.get(pk=a_world["a"].pk)
    assert a.name == A_NAME  # the typed name changed nothing of theirs


def test_the_answer_does_not_say_whether_the_number_is_in_this_live(a_world):
    # A is in live 1, not in live 2: the page for both is the same (only the live differs).
    in_it = without_csrf(body(join(Client(), a_world["first"])))
    not_in_it = without_csrf(body(join(Client(), a_world["second"])))
    strip = lambda page, live: page.replace(live.title, "").replace(recruit(live).token, "")  # noqa: E731
    assert strip(in_it, a_world["first"]) == strip(not_in_it, a_world["second"])


def test_without_a_channel_the_page_says_to_ask_the_operator(a_world):
    page = body(join(Client(), a_world["second"]))
    assert "请联系品牌的工作人员" in page and "/code/" not in page
    # Asking for a code anyway queues nothing.
    ask_code(Client(), a_world["second"])
    assert not Notice.objects.filter(kind=Notice.PROOF_CODE).exists() and not ProofCode.objects.exists()


def test_with_a_channel_the_page_offers_a_code(a_world, channel):
    page = body(join(Client(), a_world["second"]))
    assert f'action="/join/{recruit(a_world["second"]).token}/code/"' in page and "发送验证码" in page
    assert f'value="{A_PHONE}"' in page  # the number carried over, nothing else of A's


def test_a_new_number_still_joins_in_one_step(a_world):
    client = Client()
    response = join(client, a_world["second"], phone="13700000001", name="新来的人")
    enrolment = Enrolment.objects.get(phone_match(a_world["second"].org, "13700000001", "promoter__"),
                                  programme=a_world["second"].programme)
    assert response.status_code == 302 and response["Location"] == own_page_url(enrolment)


# Proof by the own-page cookie ------------------------------------------------------------------

def test_with_their_own_cookie_a_known_promoter_just_joins(a_world):
    phone = Client()
    assert phone.get(own_page_url(a_world["enrolment"])).status_code == 200  # sets the cookie
    response = join(phone, a_world["second"], name=A_NAME)
    new = Enrolment.objects.get(programme=a_world["second"].programme)
    assert new.promoter_id == a_world["a"].pk
    assert response.status_code == 302 and response["Location"] == own_page_url(new)


def test_someone_elses_cookie_is_no_proof(a_world, outsider):
    b, = enrol(a_world["first"].programme, [NewPromoter(name="乙", phone="13700000002", code="PBBBBBB")])
    foreign = outsider.live(title="别家")
    c, = enrol(foreign.programme, [NewPromoter(name="丙", phone=A_PHONE, code="PCCCCCC")])
    for enrolment in (Enrolment.objects.get(promoter=b), Enrolment.objects.get(promoter=c)):
        phone = Client()
        phone.get(own_page_url(enrolment))
        response = join(phone, a_world["second"])
        assert response.status_code == 409 and A_NAME not in body(response)
    assert not Enrolment.objects.filter(programme=a_world["second"].programme).exists()


# Per-number limits -----------------------------------------------------------------------------

def test_one_number_from_many_addresses_hits_the_per_number_limit(a_world, settings):
    settings.LIVELOOP_RATE_LIMITS = SMALL
    answers = [join(Client(REMOTE_ADDR=f"198.51.100.{n}"), a_world["second"],
                    phone=("+86 " if n % 2 else "") + A_PHONE).status_code for n in range(1, 7)]
    assert answers[:3] == [409] * 3 and answers[3:] == [429] * 3
    limited = join(Client(REMOTE_ADDR="203.0.113.99"), a_world["second"])
    assert limited.status_code == 429 and int(limited["Retry-After"]) > 0
    # Another number from the same addresses is not affected.
    assert join(Client(REMOTE_ADDR="198.51.100.1"), a_world["second"], phone="13700000003").status_code == 302


def test_asking_codes_for_one_number_is_limited_per_number(a_world, channel, settings):
    settings.LIVELOOP_RATE_LIMITS = SMALL
    answers = [ask_code(Client(REMOTE_ADDR=f"192.0.2.{n}"), a_world["second"]).status_code for n in range(1, 5)]
    assert answers == [200, 200, 429, 429]
    assert ProofCode.objects.filter(promoter=a_world["a"]).count() == 2  # the refused ones sent nothing


# The one-time code -----------------------------------------------------------------------------

def test_a_code_from_the_channel_opens_the_page_and_enrols(a_world, channel):
    phone = Client()
    assert ask_code(phone, a_world["second"]).status_code == 200
    notice = Notice.objects.get(kind=Notice.PROOF_CODE)
    code = notice.payload["code"]
    assert notice.recipient == A_CODE and notice.recipient_kind == Notice.PROMOTER
    assert notice.payload["phone"] == A_PHONE and code in notice.payload["text"]
    assert notice.live_id == a_world["second"].pk
    response = send_code(phone, a_world["second"], code=code)
    new = Enrolment.objects.get(programme=a_world["second"].programme)
    assert new.promoter_id == a_world["a"].pk
    assert response.status_code == 302 and response["Location"] == own_page_url(new)
    assert A_NAME in body(phone.get(response["Location"]))
    assert A_NAME in body(phone.get("/me/"))  # the phone now remembers them
    # Spent: the outbox keeps no copy of the code.
    assert not Notice.objects.filter(kind=Notice.PROOF_CODE).exists()


def test_a_code_gives_back_the_page_of_a_live_they_are_already_in(a_world, channel):
    phone = Client()
    ask_code(phone, a_world["first"])
    response = send_code(phone, a_world["first"], code=sent_code(a_world["a"].org, a_world["a"]))
    assert response.status_code == 302 and response["Location"] == own_page_url(a_world["enrolment"])
    assert Enrolment.objects.filter(promoter=a_world["a"]).count() == 1


def test_the_code_is_stored_hashed(a_world, channel):
    ask_code(Client(), a_world["second"])
    code = sent_code(a_world["a"].org, a_world["a"])
    row = ProofCode.objects.values().get()
    assert all(code not in str(value) for value in row.values())
    assert len(row["code_hash"]) == 64 and row["expires_at"] - row["created_at"] <= timedelta(minutes=10)


def test_the_code_cannot_be_replayed(a_world, channel):
    ask_code(Client(), a_world["second"])
    code = sent_code(a_world["a"].org, a_world["a"])
    assert send_code(Client(), a_world["second"], code=code).status_code == 302
    again = send_code(Client(), a_world["second"], code=code)
    assert again.status_code == 400 and "验证码不对或已过期" in body(again) and A_NAME not in body(again)
    assert "ll_promoter" not in again.cookies
    # Spending it twice directly: only one UPDATE matches.
    proof.send_code(a_world["a"].org, A_PHONE, a_world["second"])
    found = proof.verify(a_world["a"].org, A_PHONE, sent_code(a_world["a"].org, a_world["a"]))
    assert proof.spend(found) is True and proof.spend(found) is False


def test_the_code_cannot_be_guessed_beyond_the_attempt_limit(a_world, channel):
    ask_code(Client(), a_world["second"])
    code = sent_code(a_world["a"].org, a_world["a"])
    wrong = f"{(int(code) + 1) % 1000000:06d}"
    answers = [send_code(Client(), a_world["second"], code=wrong).status_code for _ in range(proof.MAX_ATTEMPTS)]
    assert answers == [400] * proof.MAX_ATTEMPTS
    # The right code after the last try is refused too: the code is closed.
    assert send_code(Client(), a_world["second"], code=code).status_code == 400
    assert ProofCode.objects.get().closed_at is not None
    assert not Enrolment.objects.filter(programme=a_world["second"].programme).exists()


def test_the_code_is_worthless_for_another_number_or_organisation(a_world, channel, outsider):
    b, = enrol(a_world["first"].programme, [NewPromoter(name="乙", phone="13700000002", code="PBBBBBB")])
    twin = outsider.live(title="别家")
    enrol(twin.programme, [NewPromoter(name="别家的甲", phone=A_PHONE, code="PCCCCCC")])
    Channel.objects.create(org=outsider.org, kind=Channel.WEBHOOK, name="别家", url="http://127.0.0.1:9/h",
                           secret="t" * 32)
    ask_code(Client(), a_world["second"])
    code = sent_code(a_world["a"].org, a_world["a"])
    ask_code(Client(), a_world["second"], phone="13700000002")  # B has an open code of their own
    # A's code with B's number, and with A's number on the other brand's join link (same person's
    # number, another organisation's promoter).
    assert send_code(Client(), a_world["second"], phone="13700000002", code=code).status_code == 400
    assert send_code(Client(), twin, phone=A_PHONE, code=code).status_code == 400
    assert not Enrolment.objects.filter(programme=a_world["second"].programme).exists()
    assert Enrolment.objects.filter(programme=twin.programme).count() == 1
    # A's own code still works for A.
    assert send_code(Client(), a_world["second"], code=code).status_code == 302


def test_an_expired_code_is_refused(a_world, channel):
    ask_code(Client(), a_world["second"])
    code = sent_code(a_world["a"].org, a_world["a"])
    later = ProofCode.objects.get().expires_at + timedelta(seconds=1)
    assert proof.verify(a_world["a"].org, A_PHONE, code, now=later) is None
    ProofCode.objects.update(expires_at=ProofCode.objects.get().created_at)  # as if 10 minutes had passed
    assert send_code(Client(), a_world["second"], code=code).status_code == 400


def test_a_new_code_closes_the_old_one_and_one_open_code_per_person_is_a_constraint(a_world, channel):
    ask_code(Client(), a_world["second"])
    first = sent_code(a_world["a"].org, a_world["a"])
    ask_code(Client(), a_world["second"])
    second = sent_code(a_world["a"].org, a_world["a"])
    assert ProofCode.objects.filter(closed_at__isnull=True).count() == 1
    assert Notice.objects.filter(kind=Notice.PROOF_CODE).count() == 1
    if first != second:
        assert send_code(Client(), a_world["second"], code=first).status_code == 400
    assert send_code(Client(), a_world["second"], code=second).status_code == 302
    # Two open codes for one person cannot exist, whatever the code path.
    ProofCode.objects.create(org=a_world["a"].org, promoter=a_world["a"], code_hash="x" * 64,
                             expires_at=ProofCode.objects.first().expires_at)
    with pytest.raises(IntegrityError), transaction.atomic():
        ProofCode.objects.create(org=a_world["a"].org, promoter=a_world["a"], code_hash="y" * 64,
                                 expires_at=ProofCode.objects.first().expires_at)


def test_asking_for_a_code_says_the_same_for_any_number(a_world, channel):
    known = without_csrf(body(ask_code(Client(), a_world["second"])))
    unknown = without_csrf(body(ask_code(Client(), a_world["second"], phone="13700000009")))
    assert known.replace(A_PHONE, "") == unknown.replace("13700000009", "")
    assert Notice.objects.filter(kind=Notice.PROOF_CODE).count() == 1  # only the real promoter's


def test_a_refused_join_leaves_the_code_usable(a_world, channel):
    a_world["second"].programme.is_open = False
    a_world["second"].programme.save()
    ask_code(Client(), a_world["second"])
    code = sent_code(a_world["a"].org, a_world["a"])
    assert send_code(Client(), a_world["second"], code=code).status_code == 410
    assert ProofCode.objects.get().closed_at is None  # rolled back with the refused join
    # …and it still proves who they are where they are enrolled.
    assert send_code(Client(), a_world["first"], code=code).status_code == 302


# Revocable links -------------------------------------------------------------------------------

@pytest.fixture
def operator(brand):
    add_member(brand.org, "op", Member.OPERATOR, password="correct horse battery")
    client = Client()
    assert client.login(username="op", password="correct horse battery")
    return client


def test_reissuing_a_link_revokes_the_old_link_and_cookie(a_world, operator):
    old = own_page_url(a_world["enrolment"])
    leaked = Client()
    assert leaked.get(old).status_code == 200
    answer = operator.post(f"/lives/{a_world['first'].public_id}/programme/promoters/{A_CODE}/link/")
    assert answer.status_code == 302
    gone = Client().get(old)
    assert gone.status_code == 404 and A_NAME not in body(gone)
    assert A_NAME not in body(leaked.get("/me/"))  # the cookie it set is revoked too
    assert leaked.get("/me/poster.png").status_code == 404
    enrolment = Enrolment.objects.select_related("promoter").get(pk=a_world["enrolment"].pk)
    new = own_page_url(enrolment)
    assert new != old and Client().get(new).status_code == 200
    assert new in body(operator.get(f"/lives/{a_world['first'].public_id}/programme/"))
    assert AuditEntry.objects.filter(org=a_world["a"].org, action="promoter.link_reissued").count() == 1


def test_disabling_a_promoter_revokes_their_links(a_world, operator):
    enrol(a_world["second"].programme, [NewPromoter(name=A_NAME, phone=A_PHONE)])
    other = Enrolment.objects.get(programme=a_world["second"].programme)
    old_links = [own_page_url(a_world["enrolment"]), own_page_url(other)]
    answer = operator.post(f"/lives/{a_world['first'].public_id}/programme/promoters/{A_CODE}/active/",
                           {"active": "0"})
    assert answer.status_code == 302
    for link in old_links:
        assert Client().get(link).status_code == 404


def test_a_viewer_cannot_reissue_links(a_world, brand):
    add_member(brand.org, "watcher", Member.VIEWER, password="correct horse battery")
    client = Client()
    client.login(username="watcher", password="correct horse battery")
    old = own_page_url(a_world["enrolment"])
    assert client.post(f"/lives/{a_world['first'].public_id}/programme/promoters/{A_CODE}/link/").status_code == 403
    assert Client().get(old).status_code == 200


def test_links_signed_before_versions_keep_working_until_revoked(a_world):
    from django.core import signing
    from liveloop.promoters.links import SALT
    legacy = signing.Signer(salt=SALT).sign_object({"e": a_world["enrolment"].pk, "o": a_world["a"].org_id})
    assert Client().get(f"/me/{legacy}/").status_code == 200
    from liveloop.promoters.links import revoke_links
    revoke_links(a_world["a"])
    assert Client().get(f"/me/{legacy}/").status_code == 404


def test_phone_lookups_go_through_one_function(a_world, outsider):
    assert find_promoter_by_phone(a_world["a"].org, A_PHONE).pk == a_world["a"].pk
    assert find_promoter_by_phone(outsider.org, A_PHONE) is None
    assert find_promoter_by_phone(a_world["a"].org, "") is None


# Logs ------------------------------------------------------------------------------------------

def test_redact_hides_the_secret_segment_only():
    assert redact("GET /me/eyJlIjoxfQ:1abc:SiGn/ HTTP/1.1") == f"GET /me/{REDACTED}/ HTTP/1.1"
    assert redact("https://x.cn/join/AbC-123_x/code/") == f"https://x.cn/join/{REDACTED}/code/"
    assert redact("/wechat/push/KEY123/ /wecom/callback/KEY456/") == \
        f"/wechat/push/{REDACTED}/ /wecom/callback/{REDACTED}/"
    for kept in ("/me/", "/me/poster.png", "/me/qr.png", "/i/L123/P4/", "/lives/L1/programme/"):
        assert redact(f"GET {kept} HTTP/1.1") == f"GET {kept} HTTP/1.1"


def test_django_request_warnings_do_not_log_tokens(a_world):
    handler = next(h for h in logging.getLogger().handlers if any(isinstance(f, RedactFilter) for f in h.filters))
    stream = io.StringIO()
    previous = handler.setStream(stream)
    try:
        token = sign_enrolment(a_world["enrolment"])[:-3] + "zzz"  # a 404: Django logs "Not Found: <path>"
        assert Client().get(f"/me/{token}/").status_code == 404
        join_token = recruit(a_world["second"]).token
        assert join(Client(), a_world["second"]).status_code == 409  # logged as "Conflict: <path>"
    finally:
        handler.setStream(previous)
    written = stream.getvalue()
    assert f"/me/{REDACTED}/" in written and f"/join/{REDACTED}/" in written
    assert token not in written and join_token not in written


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_gunicorns_access_log_does_not_write_tokens(tmp_path):
    """`liveloop serve`'s logger class in a real gunicorn: the request line, the referer and
    Django's warnings all name the own-page link, none writes its token."""
    port, log = _free_port(), tmp_path / "access.log"
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "liveloop.settings",
           "LIVELOOP_DATABASE_URL": f"sqlite:///{tmp_path / 'empty.sqlite3'}"}
    server = subprocess.Popen([sys.executable, "-m", "gunicorn", "liveloop.wsgi:application",
                               "--bind", f"127.0.0.1:{port}", "--workers", "1",
                               "--access-logfile", str(log), "--error-logfile", str(tmp_path / "error.log"),
                               "--logger-class", "liveloop.logredact.GunicornLogger"],
                              env=env, start_new_session=True, stdout=subprocess.DEVNULL,
                              stderr=open(tmp_path / "stderr.log", "w"))
    token = "eyJlIjoxLCJvIjoxfQ:SECRETSIGNATURE0123456789"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                answer = requests.get(f"http://127.0.0.1:{port}/me/{token}/", timeout=30,
                                      headers={"Referer": f"https://brand.example/me/{token}/"})
                break
            except requests.ConnectionError:
                assert time.monotonic() < deadline, "gunicorn did not come up"
                time.sleep(0.2)
        assert answer.status_code == 404
        deadline = time.monotonic() + 10
        while "/me/" not in (log.read_text() if log.exists() else "") and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
    access = log.read_text()
    assert f"GET /me/{REDACTED}/" in access and f"https://brand.example/me/{REDACTED}/" in access
    everything = access + (tmp_path / "stderr.log").read_text() + (tmp_path / "error.log").read_text()
    assert "SECRETSIGNATURE" not in everything


# Races -----------------------------------------------------------------------------------------

def _at_once(count, work):
    """Run work(i) in `count` threads released together; each closes its own connection."""
    from django.db import connection
    barrier, results = threading.Barrier(count), [None] * count

    def run(i):
        try:
            barrier.wait()
            results[i] = work(i)
        finally:
            connection.close()
    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return results


@pytest.mark.django_db(transaction=True)
def test_racing_the_right_code_opens_the_page_once_and_racing_guesses_stay_within_the_limit(settings):
    from django.db import connection
    # Only the code's own attempt limit is under test here, not the per-number rate limit.
    settings.LIVELOOP_RATE_LIMITS = {**SMALL, "join_verify": {"phone": "100/h"}, "join_code": {"phone": "100/h"},
                                     "join": {"phone": "100/h"}}
    if connection.vendor != "postgresql":
        # The SQLite test database lives in memory with a shared cache, which answers "table is
        # locked" to a second writer instead of waiting; SQLite serialises writers anyway.
        pytest.skip("threads racing on one database: PostgreSQL")
    from tests.actors import Tenant
    brand = Tenant("赛跑品牌")
    live = brand.live(title="赛跑场")
    other = brand.live(title="另一场")
    enrol(live.programme, [NewPromoter(name=A_NAME, phone=A_PHONE, code=A_CODE)])
    Channel.objects.create(org=brand.org, kind=Channel.WEBHOOK, name="网关", url="http://127.0.0.1:9/h",
                           secret="s" * 32)
    a = Promoter.objects.get(org=brand.org, code=A_CODE)
    ask_code(Client(), other)
    code = sent_code(brand.org, a)
    answers = _at_once(6, lambda i: send_code(Client(), other, code=code).status_code)
    assert sorted(answers) == [302] + [400] * 5, answers
    assert Enrolment.objects.filter(programme=other.programme, promoter=a).count() == 1
    # Guesses in parallel: no more than MAX_ATTEMPTS are ever compared.
    ask_code(Client(), live)
    code = sent_code(brand.org, a)
    wrong = f"{(int(code) + 1) % 1000000:06d}"
    _at_once(10, lambda i: send_code(Client(), live, code=wrong).status_code)
    row = ProofCode.objects.filter(promoter=a).latest("pk")
    assert row.attempts == proof.MAX_ATTEMPTS and row.closed_at is not None
    assert send_code(Client(), live, code=code).status_code == 400
