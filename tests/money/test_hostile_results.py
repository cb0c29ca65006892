"""Issue 14: a payment results upload that is malformed, hostile or too large answers the
page's form error (400) with the reason in the user's language, and marks nothing."""
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from liveloop.money import exports
from liveloop.money.models import PayoutBatch, Statement
from liveloop.money.settlement import settle_live
from liveloop.orgs.models import Member
from tests.actors import batch_confirm, run_confirm
from tests.hostile_files import MALFORMED, endless_rows, workbook, zip_bomb

NOT_XLSX = "这不是 XLSX 工作簿"
TOO_LARGE = "工作簿解压后超过 50 MB"


@pytest.fixture
def batch(brand, live, clients):
    run = settle_live(brand.org, live)
    owner = clients[Member.OWNER]
    owner.post(f"/money/runs/{run.pk}/approve/", run_confirm(run))
    assert owner.post("/money/batches/", batch_confirm(brand.org)).status_code == 302
    return PayoutBatch.objects.for_org(brand.org).get()


def upload(client, batch, name: str, data: bytes):
    return client.post(f"/money/batches/{batch.pk}/results/", {"results": SimpleUploadedFile(name, data)})


def nothing_marked(brand):
    return set(Statement.objects.for_org(brand.org).values_list("state", flat=True)) == {"settled"}


@pytest.mark.parametrize("name", sorted(MALFORMED))
def test_a_malformed_workbook_is_a_form_error(brand, clients, batch, name):
    answer = upload(clients[Member.FINANCE], batch, "results.xlsx", MALFORMED[name])
    assert answer.status_code == 400
    page = answer.content.decode()
    # An empty file is refused by Django's FileField itself ("The submitted file is empty.").
    assert (NOT_XLSX in page or TOO_LARGE in page) if name != "empty" else "所提交的是空文件" in page, name
    assert nothing_marked(brand)


@pytest.mark.parametrize("data", [zip_bomb(exports.RESULTS_XLSX_MAX_EXPANDED + 1), endless_rows()],
                         ids=["declared size", "endless rows"])
def test_a_workbook_expanding_too_far_is_refused_with_the_limit(brand, clients, batch, data):
    assert len(data) < 1024 * 1024
    answer = upload(clients[Member.FINANCE], batch, "results.xlsx", data)
    assert answer.status_code == 400 and TOO_LARGE in answer.content.decode()
    assert nothing_marked(brand)


def test_a_zip_named_csv_is_read_as_the_workbook_it_is(brand, clients, batch):
    rows = [["reference", "status", "transaction"]] + [[s.number, "success", f"T{s.pk}"]
                                                      for s in Statement.objects.for_org(brand.org)]
    assert upload(clients[Member.FINANCE], batch, "results.csv", workbook(rows)).status_code == 302
    assert set(Statement.objects.for_org(brand.org).values_list("state", flat=True)) == {"paid"}


def test_one_long_shared_cell_repeated_cannot_blow_up_the_csv(brand, clients, batch, monkeypatch):
    monkeypatch.setattr(exports, "RESULTS_CSV_MAX_BYTES", 10_000)
    rows = [["reference", "status"]] + [["x" * 1000, "成功"] for _ in range(50)]
    answer = upload(clients[Member.FINANCE], batch, "results.xlsx", workbook(rows))
    assert answer.status_code == 400 and TOO_LARGE in answer.content.decode()


@pytest.mark.parametrize("data, reason", [
    ("付款参考号,状态\nS1,成功\n".encode("utf-16"), "文件既不是 UTF-8 也不是 GBK"),
    (b"\x00\x00\x00\x18ftypmp42" + bytes(range(128)) * 4, "文件不是文本"),  # a video: valid UTF-8, NULs
    ('付款参考号,状态\n"S1,'.encode() + b"x" * 200_000 + '",成功\n'.encode(), "无法按 CSV 读取"),
    (b'"' + b"x" * 200_000 + b'",status\n', "无法按 CSV 读取"),
], ids=["utf-16", "a binary file", "a field over the csv limit", "a header over the csv limit"])
def test_a_broken_csv_is_listed_not_a_crash(brand, clients, batch, data, reason):
    answer = upload(clients[Member.FINANCE], batch, "results.csv", data)
    assert answer.status_code == 400
    assert reason in answer.content.decode()
    assert nothing_marked(brand)
