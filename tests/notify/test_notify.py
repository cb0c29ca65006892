"""The outbox: reminders, cancellations and summaries queued with their facts, delivered by the
worker through webhook and WeCom channels, retried, and given up into the dead-letter list."""
import hashlib
import hmac
import json
import threading
import time
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

import pytest
from django.test import Client

from liveloop.actions.lives import cancel_live, end_live, start_live
from liveloop.notify import worker
from liveloop.notify.models import Channel, Notice
from liveloop.notify.queue import outbox_counts, queue_reminders, reminder_due
from liveloop.rules.privacy import mask_viewer
from liveloop.notify.services import ChannelError, add_webhook, add_wecom, set_enabled
from liveloop.orgs.models import Member
from liveloop.orgs.services import add_member
from liveloop.promoters.models import Enrolment, Promoter
from tests.actors import EVENING, event


class FakeServer:
    """A real HTTP server on a free local port: answers come from `answer(path, query, body)`."""

    def __init__(self, answer):
        self.requests = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def _handle(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                url = urlparse(self.path)
                query = {key: values[0] for key, values in parse_qs(url.query).items()}
                outer.requests.append({"path": url.path, "query": query, "headers": dict(self.headers),
                                       "body": body})
                status, reply = answer(url.path, query, body)
                data = json.dumps(reply).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = _handle

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def serve():
    servers = []

    def start(answer):
        servers.append(FakeServer(answer))
        return servers[-1]
    yield start
    for server in servers:
        server.close()


def statuses(*codes):
    """Answer with these HTTP statuses in turn, then the last one for ever."""
    codes = list(codes)

    def answer(path, query, body):
        return (codes.pop(0) if len(codes) > 1 else codes[0]), {}
    return answer


def webhook(tenant, server, name="brand system", secret="s3cret-signing-key"):
    return Channel.objects.create(org=tenant.org, kind=Channel.WEBHOOK, name=name,
                                  url=f"{server.url}/hooks/liveloop", secret=secret)


def reserved_live(brand, viewers=("oV1abc", "oV2def"), promoters=("A",)):
    live = brand.live(promoters=list(promoters))
    brand.send([event(f"r{i}", "reservation", live.public_id, viewer, promoter=promoters[0] if promoters else None,
                      at=EVENING - timedelta(hours=3)) for i, viewer in enumerate(viewers)])
    return live


def notices(brand, **filters):
    return Notice.objects.for_org(brand.org).filter(**filters).order_by("recipient")


# Queueing

@pytest.mark.parametrize("late, due", [
    (timedelta(minutes=0), "started"), (timedelta(minutes=59), "started"), (timedelta(hours=1), "started"),
    (-timedelta(hours=1), "started"), (timedelta(hours=1, seconds=1), None),
    (-timedelta(hours=1, seconds=1), "announced"), (-timedelta(hours=5), "announced")])
def test_reminders_follow_the_one_hour_rule(late, due):
    started = EVENING + late
    expected = {"started": started, "announced": EVENING, None: None}[due]
    assert reminder_due(EVENING, started) == expected


def test_starting_within_an_hour_queues_one_reminder_per_reserver(brand):
    live = reserved_live(brand)
    brand.send([event("c", "reservation_cancel", live.public_id, "oV2def", at=EVENING - timedelta(hours=2)),
                event("r9", "reservation", live.public_id, "oV3ghi", at=EVENING - timedelta(hours=2))])
    start_live(live, at=EVENING + timedelta(minutes=40))
    rows = notices(brand, live=live)
    assert list(rows.values_list("recipient", "kind", "recipient_kind")) == [
        ("oV1abc", Notice.LIVE_REMINDER, Notice.VIEWER), ("oV3ghi", Notice.LIVE_REMINDER, Notice.VIEWER)]
    assert {row.next_attempt_at for row in rows} == {EVENING + timedelta(minutes=40)}
    assert rows[0].payload["live"]["id"] == live.public_id and live.title in rows[0].payload["text"]
    # Written by one INSERT … SELECT: every column as the model's defaults would have it.
    assert [(r.state, r.attempts, r.delivered_to, r.last_error, r.claimed_at) for r in rows] == [
        (Notice.QUEUED, 0, [], "", None)] * 2
    assert all(abs(r.created_at - datetime.now(timezone.utc)) < timedelta(minutes=5) for r in rows)
    # Queued again for the same reason: nothing new.
    assert queue_reminders(live, EVENING + timedelta(minutes=40)) == 0
    assert notices(brand, live=live).count() == 2


def test_starting_more_than_an_hour_late_reminds_nobody(brand):
    live = reserved_live(brand)
    start_live(live, at=EVENING + timedelta(minutes=61))
    assert not notices(brand, live=live).exists()


def test_starting_more_than_an_hour_early_reminds_at_the_announced_time(brand, serve):
    live = reserved_live(brand)
    server = serve(statuses(200))
    webhook(brand, server)
    start_live(live, at=EVENING - timedelta(hours=2))
    assert worker.process(now=EVENING - timedelta(hours=1)).sent == 0
    assert worker.process(now=EVENING).sent == 2


def test_ending_before_an_early_reminder_is_due_expires_it(brand):
    live = reserved_live(brand)
    start_live(live, at=EVENING - timedelta(hours=3))
    end_live(live, at=EVENING - timedelta(hours=2))
    assert set(notices(brand, live=live, kind=Notice.LIVE_REMINDER).values_list("state", flat=True)) == {
        Notice.EXPIRED}
    assert worker.process(now=EVENING).sent == 0  # never called to a live that is over


# Reminders expire: at the live's end, or an hour after they were due

@pytest.mark.parametrize("started, ended, expiry", [
    (EVENING, None, EVENING + timedelta(hours=1)),                    # on air: an hour after it was due
    (EVENING, EVENING + timedelta(minutes=30), EVENING + timedelta(minutes=30)),  # ended first
    (EVENING + timedelta(hours=1), None, EVENING + timedelta(hours=2)),           # an hour late still reminds
    (EVENING - timedelta(hours=3), None, EVENING + timedelta(hours=1)),          # early: due at the announced time
    (EVENING - timedelta(hours=3), EVENING - timedelta(hours=2), EVENING - timedelta(hours=2)),
    (None, None, None)])
def test_reminder_expiry_rule(started, ended, expiry):
    from liveloop.notify.queue import reminder_expiry

    assert reminder_expiry(EVENING, started, ended) == expiry


def test_ending_a_live_expires_its_unsent_reminders_and_the_report_says_so(brand, owner, serve):
    from liveloop.notify.queue import reminders

    live = reserved_live(brand, viewers=("oV1abc", "oV2def", "oV3ghi", "oV4jkl"))
    start_live(live, at=EVENING)
    rows = notices(brand, live=live, kind=Notice.LIVE_REMINDER)
    # One sent, one given up, one being sent as the live ends, one due exactly at the end (a
    # retry): only the queued one expires; the one in a worker's hands is the worker's.
    Notice.objects.filter(pk=rows[0].pk).update(state=Notice.SENT)
    Notice.objects.filter(pk=rows[1].pk).update(state=Notice.DEAD)
    end = EVENING + timedelta(minutes=40)
    Notice.objects.filter(pk=rows[2].pk).update(state=Notice.SENDING, claimed_at=end - timedelta(minutes=1))
    Notice.objects.filter(pk=rows[3].pk).update(next_attempt_at=end)
    assert reminders(live, now=end - timedelta(seconds=1)) == {"sent": 1, "pending": 2, "failed": 1, "expired": 0}
    end_live(live, at=end)
    live.refresh_from_db()
    assert Notice.objects.get(pk=rows[3].pk).state == Notice.EXPIRED
    assert reminders(live, now=end) == {"sent": 1, "pending": 1, "failed": 1, "expired": 1}
    # The worker finds nothing more to expire while the claim holds; the counts do not move.
    server = serve(statuses(200))
    webhook(brand, server)
    tally = worker.process(now=end + timedelta(minutes=5))
    assert tally.expired == 0 and tally.sent == 1  # the promoter's summary, no reminder
    assert [json.loads(r["body"])["kind"] for r in server.requests] == [Notice.PROMOTER_SUMMARY]
    assert reminders(live, now=end + timedelta(minutes=5)) == {"sent": 1, "pending": 1, "failed": 1, "expired": 1}
    # The claim's worker died: its lease runs out, the row comes back and expires, once.
    assert worker.process(now=end + timedelta(minutes=20)).expired == 1
    assert worker.process(now=end + timedelta(minutes=40)).expired == 0
    assert len(server.requests) == 1
    assert reminders(live, now=end + timedelta(days=1)) == {"sent": 1, "pending": 0, "failed": 1, "expired": 2}
    # The report page shows it, in Chinese.
    page = owner.get(f"/lives/{live.public_id}/report/", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "已过期 2 条" in page and "1 条失败" in page


def test_the_worker_expires_reminders_an_hour_past_due_while_the_live_is_on_air(brand, serve):
    from liveloop.notify.queue import reminders

    live = reserved_live(brand)
    start_live(live, at=EVENING)
    # No worker ran for the hour: before it is over the report still says queued, at its end
    # the read already says expired, and the worker then marks them so, once.
    assert reminders(live, now=EVENING + timedelta(minutes=59))["pending"] == 2
    assert reminders(live, now=EVENING + timedelta(hours=1)) == {"sent": 0, "pending": 0, "failed": 0, "expired": 2}
    server = serve(statuses(200))
    webhook(brand, server)
    assert worker.process(now=EVENING + timedelta(hours=1)).expired == 2
    assert worker.process(now=EVENING + timedelta(hours=2)).expired == 0
    assert server.requests == []
    assert reminders(live, now=EVENING + timedelta(hours=2))["expired"] == 2


def test_expiring_reminders_is_scoped_to_the_live(brand, outsider):
    from liveloop.notify.queue import expire_reminders

    mine, theirs = reserved_live(brand), reserved_live(outsider)
    start_live(mine, at=EVENING)
    start_live(theirs, at=EVENING + timedelta(minutes=50))
    # At 20:30 + 1 h, mine has passed its hour; theirs (due at 20:50) has not.
    assert expire_reminders(EVENING + timedelta(hours=1, minutes=30)) == 2
    assert set(notices(outsider, live=theirs).values_list("state", flat=True)) == {Notice.QUEUED}
    assert expire_reminders(EVENING + timedelta(hours=1, minutes=30), theirs) == 0


def test_queueing_the_same_reason_twice_keeps_one_notice(brand):
    live = reserved_live(brand)
    start_live(live, at=EVENING)
    assert queue_reminders(live, EVENING) == 0
    assert notices(brand, live=live).count() == 2


def test_ending_queues_a_summary_per_active_promoter_with_their_figures(brand):
    live = brand.live(promoters=["A", "B", "C"])
    L = live.public_id
    brand.send([event("r1", "reservation", L, "oV1abc", promoter="A", at=EVENING - timedelta(hours=1)),
                event("e1", "room_enter", L, "oV1abc", promoter="A", at=EVENING + timedelta(minutes=5)),
                event("o1", "order_paid", L, "oV1abc", promoter="A", order="9007199254740993", amount=12900,
                      at=EVENING + timedelta(minutes=9)),
                event("f1", "order_refund", L, "oV1abc", promoter="A", order="9007199254740993", amount=900,
                      at=EVENING + timedelta(minutes=19))])
    Enrolment.objects.for_org(brand.org).filter(promoter__code="C").update(active=False)
    start_live(live, at=EVENING)
    end_live(live, at=EVENING + timedelta(hours=2))
    rows = {row.recipient: row for row in notices(brand, live=live, kind=Notice.PROMOTER_SUMMARY)}
    assert set(rows) == {"A", "B"}
    assert {row.recipient_kind for row in rows.values()} == {Notice.PROMOTER}
    assert rows["A"].payload["figures"] == {"reservations": 1, "entered": 1, "buyers": 1, "orders": 1,
                                            "gmv": 12900, "refunded": 900}
    assert "¥129.00" in rows["A"].payload["text"]
    assert rows["B"].payload["figures"]["gmv"] == 0


# Delivery through a webhook

def test_cancel_notices_are_delivered_signed_and_verifiable(brand, serve):
    live = reserved_live(brand)
    server = serve(statuses(200))
    channel = webhook(brand, server)
    cancel_live(live, at=EVENING - timedelta(hours=2))
    tally = worker.process(now=EVENING - timedelta(hours=2))
    assert (tally.sent, tally.retried, tally.dead) == (2, 0, 0)
    assert set(notices(brand, live=live).values_list("state", flat=True)) == {Notice.SENT}
    assert len(server.requests) == 2
    for request in server.requests:
        timestamp, body = request["headers"]["X-Liveloop-Timestamp"], request["body"]
        expected = hmac.new(channel.secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
        assert hmac.compare_digest(request["headers"]["X-Liveloop-Signature"], expected)
        sent = json.loads(body)
        assert (sent["kind"], sent["live"], sent["org"]) == (Notice.LIVE_CANCELLED, live.public_id, brand.org.slug)
    assert sorted(json.loads(r["body"])["recipient"] for r in server.requests) == ["oV1abc", "oV2def"]


def test_a_sent_notice_is_not_sent_again(brand, serve):
    live = reserved_live(brand, viewers=("oV1abc",))
    server = serve(statuses(200))
    webhook(brand, server)
    start_live(live, at=EVENING)
    worker.process(now=EVENING)
    worker.process(now=EVENING + timedelta(hours=2))
    assert len(server.requests) == 1


def test_a_failed_send_is_retried_with_backoff(brand, serve):
    live = reserved_live(brand, viewers=("oV1abc",))
    server = serve(statuses(500, 200))
    webhook(brand, server)
    start_live(live, at=EVENING)
    assert worker.process(now=EVENING).retried == 1
    notice = notices(brand, live=live).get()
    assert (notice.state, notice.attempts, notice.next_attempt_at) == (
        Notice.QUEUED, 1, EVENING + timedelta(seconds=30))
    assert "HTTP 500" in notice.last_error
    assert worker.process(now=EVENING + timedelta(seconds=29)).sent == 0
    assert worker.process(now=EVENING + timedelta(seconds=30)).sent == 1
    notice.refresh_from_db()
    assert (notice.state, notice.last_error, len(server.requests)) == (Notice.SENT, "", 2)


def test_backoff_doubles_from_thirty_seconds_up_to_an_hour():
    assert [worker.backoff(n).total_seconds() for n in range(1, 10)] == [
        30, 60, 120, 240, 480, 960, 1920, 3600, 3600]


def test_a_retry_after_a_partial_failure_skips_the_channel_that_accepted(brand, serve):
    live = reserved_live(brand, viewers=("oV1abc",))
    good, flaky = serve(statuses(200)), serve(statuses(503, 200))
    webhook(brand, good, name="CRM")
    webhook(brand, flaky, name="SMS gateway")
    start_live(live, at=EVENING)
    worker.process(now=EVENING)
    worker.process(now=EVENING + timedelta(minutes=1))
    assert (len(good.requests), len(flaky.requests)) == (1, 2)
    assert notices(brand, live=live).get().state == Notice.SENT


def test_another_organisations_channel_gets_nothing(brand, outsider, serve):
    live = reserved_live(brand, viewers=("oV1abc",))
    theirs = serve(statuses(200))
    webhook(outsider, theirs)
    start_live(live, at=EVENING)
    worker.process(now=EVENING)
    assert theirs.requests == []
    assert notices(brand, live=live).get().last_error == "no enabled channel can reach this recipient"


# Giving up, and the operators' page

@pytest.fixture
def dead_notice(brand, serve, settings):
    settings.LIVELOOP_NOTICE_MAX_ATTEMPTS = 3
    live = reserved_live(brand, viewers=("oV1abcdef",))
    server = serve(statuses(500))
    webhook(brand, server)
    start_live(live, at=EVENING)
    now = EVENING
    for _ in range(3):
        worker.process(now=now)
        now += timedelta(minutes=10)  # past each backoff, inside the reminder's hour
    notice = notices(brand, live=live).get()
    assert len(server.requests) == 3
    return notice


def test_after_the_last_attempt_a_notice_is_dead(dead_notice):
    assert (dead_notice.state, dead_notice.attempts) == (Notice.DEAD, 3)
    assert worker.process(now=EVENING + timedelta(days=1)).sent == 0


def test_dead_notices_are_listed_masked_and_can_be_retried(brand, owner, dead_notice):
    page = owner.get("/notices/").content.decode()
    assert "oV****ef" in page and "oV1abcdef" not in page
    assert "HTTP 500" in page
    assert outbox_counts(brand.org) == {Notice.QUEUED: 0, Notice.SENDING: 0, Notice.DEAD: 1}
    response = owner.post(f"/notices/{dead_notice.pk}/retry/")
    assert response.status_code == 302
    dead_notice.refresh_from_db()
    assert (dead_notice.state, dead_notice.attempts, dead_notice.last_error) == (Notice.QUEUED, 0, "")
    assert outbox_counts(brand.org) == {Notice.QUEUED: 1, Notice.SENDING: 0, Notice.DEAD: 0}


def test_only_members_who_manage_lives_may_retry(brand, dead_notice):
    add_member(brand.org, "watcher", Member.VIEWER, password="watch the stream")
    client = Client()
    assert client.login(username="watcher", password="watch the stream")
    assert client.get("/notices/").status_code == 200
    assert client.post(f"/notices/{dead_notice.pk}/retry/").status_code == 403
    dead_notice.refresh_from_db()
    assert dead_notice.state == Notice.DEAD


def test_another_organisation_cannot_retry_a_notice(outsider, dead_notice):
    add_member(outsider.org, "other", Member.OWNER, password="another brand owner")
    client = Client()
    assert client.login(username="other", password="another brand owner")
    client.post(f"/notices/{dead_notice.pk}/retry/")
    dead_notice.refresh_from_db()
    assert dead_notice.state == Notice.DEAD


def test_masking_keeps_two_characters_each_side():
    assert (mask_viewer("oVabc123xyz"), mask_viewer("abcd")) == ("oV****yz", "****")


# Two workers

def test_two_workers_never_claim_the_same_notice(brand):
    live = reserved_live(brand)
    start_live(live, at=EVENING)
    first, second = worker.claim(EVENING), worker.claim(EVENING)
    assert len(first) == 2 and second == []
    assert set(notices(brand, live=live).values_list("state", flat=True)) == {Notice.SENDING}


def test_a_notice_stuck_in_sending_goes_back_after_ten_minutes(brand, serve):
    live = reserved_live(brand, viewers=("oV1abc",))
    server = serve(statuses(200))
    webhook(brand, server)
    start_live(live, at=EVENING)
    assert len(worker.claim(EVENING)) == 1  # that worker dies here
    assert worker.process(now=EVENING + timedelta(minutes=9)).released == 0
    tally = worker.process(now=EVENING + timedelta(minutes=10))
    assert (tally.released, tally.sent, len(server.requests)) == (1, 1, 1)


# WeCom

def fake_wecom(serve):
    tokens = iter(["TOKEN-1", "TOKEN-2"])

    def answer(path, query, body):
        if path == "/cgi-bin/gettoken":
            if (query.get("corpid"), query.get("corpsecret")) != ("ww-corp", "corp-secret"):
                return 200, {"errcode": 40013, "errmsg": "invalid corpid"}
            return 200, {"errcode": 0, "errmsg": "ok", "access_token": next(tokens), "expires_in": 7200}
        if path == "/cgi-bin/message/send":
            if query.get("access_token") == "TOKEN-1":
                return 200, {"errcode": 42001, "errmsg": "access_token expired"}
            return 200, {"errcode": 0, "errmsg": "ok"}
        return 404, {}
    return serve(answer)


def wecom_channel(brand, server, settings):
    settings.LIVELOOP_WECOM_API_BASE = server.url
    return Channel.objects.create(org=brand.org, kind=Channel.WECOM, name="企业微信", corp_id="ww-corp",
                                  agent_id="1000002", corp_secret="corp-secret")


def test_wecom_refreshes_an_expired_token_and_sends(brand, serve, settings):
    server = fake_wecom(serve)
    channel = wecom_channel(brand, server, settings)
    live = brand.live(promoters=["A"])
    start_live(live, at=EVENING)
    end_live(live, at=EVENING + timedelta(hours=1))
    notice = notices(brand, kind=Notice.PROMOTER_SUMMARY).get()
    Promoter.objects.for_org(brand.org).filter(code="A").update(wecom_userid="zhangsan")
    assert worker.process(now=EVENING + timedelta(hours=1)).sent == 1
    paths = [(r["path"], r["query"].get("access_token")) for r in server.requests]
    assert paths == [("/cgi-bin/gettoken", None), ("/cgi-bin/message/send", "TOKEN-1"),
                     ("/cgi-bin/gettoken", None), ("/cgi-bin/message/send", "TOKEN-2")]
    sent = json.loads(server.requests[-1]["body"])
    assert (sent["touser"], sent["agentid"], sent["msgtype"]) == ("zhangsan", 1000002, "text")
    assert sent["text"]["content"] == notice.payload["text"]
    channel.refresh_from_db()
    assert channel.access_token == "TOKEN-2"


def test_wecom_reuses_its_cached_token(brand, serve, settings):
    server = fake_wecom(serve)
    channel = wecom_channel(brand, server, settings)
    Channel.objects.filter(pk=channel.pk).update(access_token="TOKEN-2",
                                                 token_expires_at=EVENING + timedelta(days=3650))
    live = brand.live(promoters=["A", "B"])
    start_live(live, at=EVENING)
    end_live(live, at=EVENING + timedelta(hours=1))
    for code in ("A", "B"):
        Promoter.objects.for_org(brand.org).filter(code=code).update(wecom_userid=f"user-{code}")
    assert worker.process(now=EVENING + timedelta(hours=1)).sent == 2
    assert [r["path"] for r in server.requests] == ["/cgi-bin/message/send"] * 2


def test_wecom_cannot_reach_viewers(brand, serve, settings):
    server = fake_wecom(serve)
    wecom_channel(brand, server, settings)
    live = reserved_live(brand, viewers=("oV1abc",))
    start_live(live, at=EVENING)
    assert worker.process(now=EVENING).retried == 1
    assert server.requests == []
    assert notices(brand, live=live).get().last_error == (
        "no enabled channel can reach this recipient (企业微信: WeCom reaches only promoters, not viewers)")


# The command's loop

def test_one_pass_of_the_worker_loop_reports_what_it_did(brand, serve):
    live = reserved_live(brand)
    webhook(brand, serve(statuses(200)))
    # The loop runs on the clock: a live on air now, so its reminders are inside their hour.
    live.announced_at = datetime.now(timezone.utc)
    live.save(update_fields=["announced_at"])
    start_live(live, at=live.announced_at)
    lines = []
    worker.run(once=True, echo=lines.append)
    assert lines == ["sent 2, to retry 0, dead 0, released 0, expired 0"]
    other = brand.live(title="上周的直播")
    brand.send([event("r-other", "reservation", other.public_id, "oV5mno", at=EVENING - timedelta(hours=3))])
    start_live(other, at=EVENING)  # weeks ago: its reminder's hour is long over
    worker.run(once=True, echo=lines.append)
    assert lines[1:] == ["sent 0, to retry 0, dead 0, released 0, expired 1"]


# Setting up channels

def test_a_webhook_gets_a_signing_secret_unless_given_one(brand):
    made = add_webhook(brand.org, name="CRM", url="https://crm.example.com/hooks")
    given = add_webhook(brand.org, name="ERP", url="http://erp.example.com/in", secret="theirs")
    assert len(made.secret) == 64 and given.secret == "theirs"
    with pytest.raises(ChannelError):
        add_webhook(brand.org, name="bad", url="ftp://example.com/x")


def test_a_wecom_channel_needs_a_numeric_agent_id(brand):
    with pytest.raises(ChannelError):
        add_wecom(brand.org, name="企业微信", corp_id="ww1", agent_id="abc", corp_secret="s")
    assert add_wecom(brand.org, name="企业微信", corp_id="ww1", agent_id="1000002", corp_secret="s").enabled


def test_a_disabled_channel_is_not_used_and_another_org_cannot_touch_it(brand, outsider, serve):
    live = reserved_live(brand, viewers=("oV1abc",))
    server = serve(statuses(200))
    channel = webhook(brand, server)
    assert not set_enabled(outsider.org, channel.pk, False)
    assert set_enabled(brand.org, channel.pk, False)
    start_live(live, at=EVENING)
    worker.process(now=EVENING)
    assert server.requests == []


# Leases and idempotency keys (the kill -9 test is tests/notify/test_outbox_kill.py)

def test_every_send_of_a_notice_carries_the_same_delivery_key(brand, serve):
    live = reserved_live(brand, viewers=("oV1abc",))
    server = serve(statuses(500, 200))
    webhook(brand, server)
    start_live(live, at=EVENING)
    worker.process(now=EVENING)
    worker.process(now=EVENING + timedelta(minutes=1))
    notice = notices(brand, live=live).get()
    keys = [request["headers"]["X-Liveloop-Delivery"] for request in server.requests]
    assert keys == [str(notice.pk)] * 2
    assert json.loads(server.requests[0]["body"])["id"] == notice.pk


def test_wecom_asks_for_its_duplicate_check(brand, serve, settings):
    server = fake_wecom(serve)
    wecom_channel(brand, server, settings)
    live = brand.live(promoters=["A"])
    start_live(live, at=EVENING)
    end_live(live, at=EVENING + timedelta(hours=1))
    Promoter.objects.for_org(brand.org).filter(code="A").update(wecom_userid="zhangsan")
    worker.process(now=EVENING + timedelta(hours=1))
    sent = json.loads(server.requests[-1]["body"])
    assert (sent["enable_duplicate_check"], sent["duplicate_check_interval"]) == (1, 4 * 3600)


def test_a_worker_that_lost_its_claim_writes_nothing(brand, serve):
    live = reserved_live(brand, viewers=("oV1abc",))
    server = serve(statuses(200))
    webhook(brand, server)
    start_live(live, at=EVENING)
    [slow] = worker.claim(EVENING)
    # Its lease runs out; another worker takes the notice back and claims it anew.
    assert worker.release_stale(EVENING + timedelta(minutes=10)) == 1
    [fresh] = worker.claim(EVENING + timedelta(minutes=10))
    assert worker.send(slow, EVENING) == Notice.SENDING  # its one send went out, nothing recorded
    row = notices(brand, live=live).get()
    assert (row.state, row.claimed_at, row.delivered_to) == (Notice.SENDING, fresh.claimed_at, [])
    assert worker.send(fresh, EVENING + timedelta(minutes=10)) == Notice.SENT
    assert len(server.requests) == 2  # the receiver drops the repeat by its delivery key


def test_a_claim_without_lease_left_for_a_send_is_handed_back(brand, serve, settings):
    settings.LIVELOOP_NOTICE_LEASE_SECONDS = 60
    live = reserved_live(brand, viewers=("oV1abc",))
    server = serve(statuses(200))
    webhook(brand, server)
    start_live(live, at=EVENING)
    [notice] = worker.claim(EVENING)
    # 45 s into the lease, a 5 s timeout leaves no room for a send that may take 4 calls.
    assert worker.send(notice, EVENING, started=time.monotonic() - 45) == Notice.SENDING
    row = notices(brand, live=live).get()
    assert (row.state, row.attempts, server.requests) == (Notice.QUEUED, 0, [])
    assert worker.process(now=EVENING).sent == 1


def test_each_channels_acceptance_is_recorded_before_the_next_send(brand, serve, monkeypatch):
    live = reserved_live(brand, viewers=("oV1abc",))
    first = webhook(brand, serve(statuses(200)), name="first")
    second = webhook(brand, serve(statuses(200)), name="second")
    recorded = []

    def deliver(notice, channel):
        recorded.append((channel.pk, Notice.objects.get(pk=notice.pk).delivered_to))
        return worker_deliver(notice, channel)
    worker_deliver = worker.deliver
    monkeypatch.setattr(worker, "deliver", deliver)
    start_live(live, at=EVENING)
    assert worker.process(now=EVENING).sent == 1
    assert recorded == [(first.pk, []), (second.pk, [first.pk])]


# WeCom and the promoter's own user id

def test_a_summary_goes_to_the_promoters_wecom_userid_as_it_is_when_sent(brand, serve, settings):
    server = fake_wecom(serve)
    wecom_channel(brand, server, settings)
    live = brand.live(promoters=["A", "B"])
    Promoter.objects.for_org(brand.org).filter(code="A").update(wecom_userid="zhangsan")
    start_live(live, at=EVENING)
    end_live(live, at=EVENING + timedelta(hours=1))
    assert notices(brand, kind=Notice.PROMOTER_SUMMARY, recipient="A").get().payload["wecom_userid"] == "zhangsan"
    tally = worker.process(now=EVENING + timedelta(hours=1))
    assert (tally.sent, tally.retried) == (1, 1)
    sent = [json.loads(r["body"])["touser"] for r in server.requests if r["path"] == "/cgi-bin/message/send"]
    assert set(sent) == {"zhangsan"}
    waiting = notices(brand, kind=Notice.PROMOTER_SUMMARY, recipient="B").get()
    assert (waiting.state, waiting.last_error) == (
        Notice.QUEUED, "no enabled channel can reach this recipient (企业微信: promoter B has no WeCom user id)")
    # The operator fills B's id in while the summary waits for its retry: it goes out then.
    Promoter.objects.for_org(brand.org).filter(code="B").update(wecom_userid="lisi")
    assert worker.process(now=EVENING + timedelta(hours=2)).sent == 1
    assert json.loads(server.requests[-1]["body"])["touser"] == "lisi"


def test_a_cleared_wecom_userid_stops_the_summary(brand, serve, settings):
    server = fake_wecom(serve)
    wecom_channel(brand, server, settings)
    live = brand.live(promoters=["A"])
    Promoter.objects.for_org(brand.org).filter(code="A").update(wecom_userid="zhangsan")
    start_live(live, at=EVENING)
    end_live(live, at=EVENING + timedelta(hours=1))
    Promoter.objects.for_org(brand.org).filter(code="A").update(wecom_userid="")  # the guide left
    assert worker.process(now=EVENING + timedelta(hours=1)).retried == 1
    assert server.requests == []


def test_another_orgs_promoter_with_the_same_code_is_not_reached(brand, outsider, serve, settings):
    server = fake_wecom(serve)
    wecom_channel(brand, server, settings)
    live = brand.live(promoters=["A"])
    outsider.live(promoters=["A"])
    Promoter.objects.for_org(outsider.org).filter(code="A").update(wecom_userid="someone-else")
    start_live(live, at=EVENING)
    end_live(live, at=EVENING + timedelta(hours=1))
    assert worker.process(now=EVENING + timedelta(hours=1)).retried == 1
    assert server.requests == []
