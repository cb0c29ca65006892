"""Issue 19 item 6: from an empty database to signed in, with only the CLI and the README's steps.

The CLI runs migrate and its own transactions, so these tests use a transactional database.
"""
import json

import pytest
from click.testing import CliRunner
from django.contrib.auth import get_user_model

from liveloop.cli import main
from liveloop.orgs.models import Member, Organisation

pytestmark = pytest.mark.django_db(transaction=True)

PASSWORD = "茶花-spring-2026-ok"


@pytest.fixture(autouse=True)
def data_dir(settings, tmp_path):
    settings.DATA_DIR = tmp_path / "var"


def run(*args, input=None):
    return CliRunner().invoke(main, [str(a) for a in args], input=input, catch_exceptions=False)


def new_org():
    result = run("org", "create", "茶花小店", "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)["slug"]


def test_from_an_empty_database_to_signed_in(client):
    assert not get_user_model().objects.exists()
    slug = new_org()
    result = run("user", "create", "ops", slug, "--role", "owner", "--password-stdin",
                 input=PASSWORD + "\n")
    assert result.exit_code == 0, result.output
    assert "ops" in result.stdout and slug in result.stdout
    assert PASSWORD not in result.stdout

    member = Member.objects.get(user__username="ops")
    assert member.org.slug == slug and member.role == Member.OWNER

    response = client.post("/login/", {"username": "ops", "password": PASSWORD})
    assert response.status_code == 302, response.content[:500]
    page = client.get("/")
    assert page.status_code == 200
    assert "茶花小店" in page.content.decode()


def test_the_prompt_asks_twice_and_a_mismatch_is_asked_again(client):
    slug = new_org()
    result = run("user", "create", "fin", slug, "--role", "finance",
                 input=f"{PASSWORD}\nsomething-else-9\n{PASSWORD}\n{PASSWORD}\n")
    assert result.exit_code == 0, result.output
    assert Member.objects.get(user__username="fin").role == Member.FINANCE
    assert "do not match" in result.output
    assert client.post("/login/", {"username": "fin", "password": PASSWORD}).status_code == 302


@pytest.mark.parametrize("password", ["short", "12345678901", "password123", "qwertyuiop"])
def test_a_weak_password_is_refused_and_nobody_is_made(password):
    slug = new_org()
    result = CliRunner().invoke(main, ["user", "create", "ops", slug, "--password-stdin"],
                                input=password + "\n")
    assert result.exit_code != 0
    assert "password" in result.output
    assert not get_user_model().objects.filter(username="ops").exists()
    assert not Member.objects.exists()


def test_an_unknown_org_is_refused():
    result = CliRunner().invoke(main, ["user", "create", "ops", "no-such-org", "--password-stdin"],
                                input=PASSWORD + "\n")
    assert result.exit_code != 0
    assert "no-such-org" in result.output
    assert not get_user_model().objects.exists()


def test_an_existing_username_is_not_taken_over():
    slug = new_org()
    assert run("user", "create", "ops", slug, "--password-stdin", input=PASSWORD + "\n").exit_code == 0
    other = Organisation.objects.create(name="别家", slug="other")
    result = CliRunner().invoke(main, ["user", "create", "ops", other.slug, "--password-stdin"],
                                input="another-Strong-pass-77\n")
    assert result.exit_code != 0
    assert "already exists" in result.output
    user = get_user_model().objects.get(username="ops")
    assert user.check_password(PASSWORD)
    assert not Member.objects.filter(org=other).exists()


def test_an_unknown_role_is_refused():
    slug = new_org()
    result = CliRunner().invoke(main, ["user", "create", "ops", slug, "--role", "admin",
                                       "--password-stdin"], input=PASSWORD + "\n")
    assert result.exit_code != 0
    assert not get_user_model().objects.filter(username="ops").exists()
