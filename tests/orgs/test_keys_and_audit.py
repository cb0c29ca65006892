"""API keys rotate with a grace period; settings changes land in the audit log."""
from datetime import timedelta

import pytest
from django.utils import timezone

from liveloop.orgs.models import ApiKey, AuditEntry

pytestmark = pytest.mark.django_db


def summary(client):
    return client.get("/api/v1/lives")


def test_a_rotated_key_keeps_working_for_a_day_then_answers_401(brand, owner):
    old = ApiKey.objects.get(org=brand.org)
    assert summary(brand.api).status_code == 200
    page = owner.post(f"/settings/keys/{old.pk}/rotate/")
    assert page.status_code == 200 and page["Cache-Control"] == "no-store"
    new = ApiKey.objects.get(org=brand.org, rotated_to=None, pk__gt=old.pk)
    secret = page.context["secret"]
    assert secret.startswith(new.prefix) and ApiKey.hash(secret) == new.digest
    old.refresh_from_db()
    assert old.rotated_to_id == new.pk
    assert timedelta(hours=23) < old.expires_at - timezone.now() <= timedelta(hours=24)
    assert summary(brand.api).status_code == 200  # still inside the grace period
    from django.test import Client
    assert Client(HTTP_AUTHORIZATION=f"Bearer {secret}").get("/api/v1/lives").status_code == 200
    ApiKey.objects.filter(pk=old.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert summary(brand.api).status_code == 401
    # Rotating it again is refused; the new one can be rotated in turn.
    owner.post(f"/settings/keys/{old.pk}/rotate/")
    assert ApiKey.objects.filter(org=brand.org).count() == 2
    entry = AuditEntry.objects.get(org=brand.org, action="key.rotate")
    assert entry.actor == "owner" and entry.detail["new"] == f"{new.prefix}…"


def test_a_foreign_key_cannot_be_rotated(brand, outsider, owner):
    theirs = ApiKey.objects.get(org=outsider.org)
    assert owner.post(f"/settings/keys/{theirs.pk}/rotate/").status_code == 404
    assert not ApiKey.objects.filter(org=outsider.org).exclude(pk=theirs.pk).exists()


def test_member_and_key_changes_are_audited(brand, owner):
    owner.post("/settings/members/", {"username": "cashier", "role": "finance",
                                      "password": "a long enough password 1"})
    owner.post("/settings/keys/", {"name": "ERP"})
    key = ApiKey.objects.get(org=brand.org, name="ERP")
    owner.post(f"/settings/keys/{key.pk}/revoke/")
    actions = list(AuditEntry.objects.filter(org=brand.org).order_by("pk").values_list("action", "target"))
    assert actions[0] == ("member.add", "cashier")
    assert [a for a, _ in actions[1:]] == ["key.create", "key.revoke"]
