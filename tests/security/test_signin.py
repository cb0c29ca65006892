"""Sign-in: guesses are limited per account and per address (django-axes), passwords follow
Django's validators wherever they are set, and failed sign-ins reach the organisation's audit log."""
from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.conf import settings
from django.test import Client
from django.utils import timezone

from liveloop.orgs.models import AuditEntry, Member
from liveloop.orgs.services import add_member

PASSWORD = "correct horse battery"


def sign_in(username, password, address="203.0.113.7"):
    return Client(REMOTE_ADDR=address).post("/login/", {"username": username, "password": password})


@pytest.fixture
def ops(brand):
    return add_member(brand.org, "ops", Member.OPERATOR, password=PASSWORD)


def test_guessing_one_account_locks_it_and_the_right_password_waits_too(ops):
    limit = settings.AXES_FAILURE_LIMIT
    # The attack: a run of wrong passwords, each from a different address.
    answers = [sign_in("ops", f"guess-{n}", address=f"198.51.100.{n}").status_code for n in range(limit + 5)]
    assert answers[:limit - 1] == [200] * (limit - 1)  # the form again, with its error
    assert set(answers[limit:]) == {429}
    locked = sign_in("ops", PASSWORD, address="192.0.2.99")
    assert locked.status_code == 429 and not locked.has_header("Location")
    # The lockout page is Chinese and says when to try again; Retry-After says it to machines.
    html = locked.content.decode()
    assert "登录已暂停" in html and "之后再试" in html
    assert 0 < int(locked["Retry-After"]) <= settings.AXES_COOLOFF_TIME.total_seconds()
    # Once the cool-off has passed, the right password works again.
    AccessAttempt.objects.update(attempt_time=timezone.now() - settings.AXES_COOLOFF_TIME - timedelta(seconds=1))
    response = sign_in("ops", PASSWORD, address="192.0.2.99")
    assert response.status_code == 302 and response["Location"] == "/"


def test_one_address_guessing_many_accounts_is_locked(ops):
    for n in range(settings.AXES_FAILURE_LIMIT):
        sign_in(f"someone-{n}", "password1", address="198.51.100.77")
    assert sign_in("ops", PASSWORD, address="198.51.100.77").status_code == 429
    # Another address is not held up by it.
    assert sign_in("ops", PASSWORD, address="198.51.100.78").status_code == 302


def test_attempts_while_locked_do_not_push_the_unlock_time_back(ops):
    for n in range(settings.AXES_FAILURE_LIMIT):
        sign_in("ops", f"guess-{n}")
    first = int(sign_in("ops", "again").get("Retry-After"))
    AccessAttempt.objects.update(attempt_time=timezone.now() - timedelta(minutes=5))
    later = int(sign_in("ops", "again").get("Retry-After"))
    assert later <= first - 5 * 60 + 5


def test_the_lockout_page_in_english(ops):
    client = Client(REMOTE_ADDR="203.0.113.8")
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    for n in range(settings.AXES_FAILURE_LIMIT + 1):
        response = client.post("/login/", {"username": "ops", "password": f"guess-{n}"})
    assert response.status_code == 429
    assert "Please try again after" in response.content.decode()


def test_a_failed_sign_in_is_in_the_accounts_organisations_audit_logs(brand, outsider, ops):
    add_member(outsider.org, "ops", Member.VIEWER)  # the same account, member of both
    sign_in("ops", "not-the-password", address="203.0.113.9")
    sign_in("nobody-at-all", "not-the-password")  # no account: no organisation's business
    for org in (brand.org, outsider.org):
        entry = AuditEntry.objects.get(org=org, action="member.sign_in_failed")
        assert entry.target == "ops" and entry.actor == "system"
        assert entry.detail == {"address": "203.0.113.9", "locked": False}
    assert AuditEntry.objects.filter(action="member.sign_in_failed").count() == 2
    # A successful sign-in writes no failure.
    sign_in("ops", PASSWORD, address="203.0.113.10")
    assert AuditEntry.objects.filter(action="member.sign_in_failed").count() == 2


@pytest.mark.parametrize("password, message", [
    ("12345678", "这个密码太常见了"),
    ("password", "这个密码太常见了"),
    ("93827461530", "密码只包含数字"),
    ("newcomer1", "太相似了"),
])
def test_weak_member_passwords_are_refused_in_chinese(owner, brand, password, message):
    response = owner.post("/settings/members/", {"username": "newcomer", "password": password, "role": "viewer"})
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not Member.objects.filter(org=brand.org, user__username="newcomer").exists()


def test_an_unreadable_address_still_signs_in_and_is_counted(ops):
    # axes keeps addresses in an address column (inet on PostgreSQL): "unknown" must not reach it.
    assert sign_in("ops", PASSWORD, address="not an address").status_code == 302
    for n in range(settings.AXES_FAILURE_LIMIT):
        sign_in("ops", f"guess-{n}", address="not an address")
    assert sign_in("ops", PASSWORD, address="203.0.113.50").status_code == 429


def test_signing_in_to_ones_own_account_between_guesses_resets_nothing(brand, ops):
    add_member(brand.org, "mallory", Member.VIEWER, password="mallory's own passphrase")
    for n in range(settings.AXES_FAILURE_LIMIT - 1):
        sign_in("ops", f"guess-{n}", address="198.51.100.66")
        assert sign_in("mallory", "mallory's own passphrase", address="198.51.100.66").status_code == 302
    sign_in("ops", "the last guess", address="198.51.100.66")
    assert sign_in("ops", PASSWORD, address="192.0.2.1").status_code == 429  # the account is locked
    assert sign_in("mallory", "mallory's own passphrase", address="198.51.100.66").status_code == 429


def test_a_flood_writes_only_the_counted_failures_to_the_audit_log(brand, ops):
    limit = settings.AXES_FAILURE_LIMIT
    for n in range(limit + 20):
        sign_in("ops", f"guess-{n}", address="198.51.100.88")
    entries = list(AuditEntry.objects.filter(org=brand.org, action="member.sign_in_failed").order_by("pk"))
    assert len(entries) == limit  # the refused ones were never tried
    assert [e.detail["locked"] for e in entries] == [False] * (limit - 1) + [True]
