"""The `liveloop` command. Each subcommand is a thin shell over a service function."""
import json
import os
import sys
from itertools import islice
from pathlib import Path

import click


def _setup() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "liveloop.settings")
    import django

    django.setup()


def _migrate(verbosity: int = 0) -> None:
    from django.conf import settings
    from django.core.management import call_command

    Path(settings.DATA_DIR).mkdir(parents=True, exist_ok=True)
    call_command("migrate", interactive=False, verbosity=verbosity)


def _org(slug: str):
    from liveloop.orgs.models import Organisation

    org = Organisation.objects.filter(slug=slug).first()
    if org is None:
        raise click.ClickException(f"no organisation with slug {slug!r}")
    return org


@click.group(help="Liveloop: promoter programmes, attribution and live analytics.")
def main():
    _setup()


@main.command(help="Create the tables (or bring them up to date).")
def migrate():
    _migrate(verbosity=1)


@main.command(help="Serve Liveloop over HTTP (gunicorn, the way production runs it).")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--workers", default=2, show_default=True, type=int)
def serve(host, port, workers):
    _serve(host, port, workers)


def _serve(host: str, port: int, workers: int) -> None:
    from django.core.management import call_command

    # Fail loudly now (e.g. no CJK font for posters) rather than on a promoter's first tap.
    call_command("check", fail_level="ERROR")
    # Workers' PostgreSQL statements end (503) before gunicorn's 60 s timeout kills the worker.
    os.environ.setdefault("LIVELOOP_DB_STATEMENT_TIMEOUT", "50")
    # exec so that signals (Ctrl-C, kill) reach gunicorn directly.
    os.execvp(sys.executable, [sys.executable, "-m", "gunicorn", "liveloop.wsgi:application",
                               "--bind", f"{host}:{port}", "--workers", str(workers),
                               "--threads", "4", "--access-logfile", "-", "--timeout", "60",
                               # Own-page links and join tokens are credentials: not in the log.
                               "--logger-class", "liveloop.logredact.GunicornLogger"])


@main.command(help="Create, seed and serve the demo organisation.")
@click.option("--serve/--no-serve", default=True, help="Serve after seeding.")
@click.option("--seed", default=1, show_default=True, type=int, help="Random seed: same seed, same data.")
@click.option("--scale", default=1.0, show_default=True, type=float,
              help="Fraction of the full demo size (1.0 ≈ 100,000 reservations).")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
def demo(serve, seed, scale, host, port):
    from liveloop.demo.agency import AGENCY_SLUG, AGENCY_USER
    from liveloop.demo.seed import DEMO_PASSWORD, DEMO_SLUG, DEMO_USER, seed_demo

    _migrate()
    if _demo_exists(DEMO_SLUG):
        click.echo(f"The demo organisation '{DEMO_SLUG}' exists already; keeping it.")
    else:
        seed_demo(seed=seed, scale=scale, echo=click.echo)
    base = f"http://{host}:{port}"
    click.echo("")
    click.echo(f"  Liveloop demo  {base}/")
    click.echo(f"  login: {DEMO_USER} / {DEMO_PASSWORD}")
    if _demo_exists(AGENCY_SLUG):
        click.echo(f"  agency 服务商 login: {AGENCY_USER} / {DEMO_PASSWORD} → scorecards 成绩单 {base}/agency/scorecards/")
    click.echo(f"  API:   {base}/api/v1/docs  (OpenAPI: {base}/api/v1/openapi.json)")
    for label, path in _phone_links(DEMO_SLUG):
        click.echo(f"  {label}: {base}{path}")
    click.echo(f"  a live on air 直播: run `liveloop demo-live --url {base}` in another terminal "
               f"(orders only: `liveloop demo-shop`)")
    click.echo("")
    if serve:
        _serve(host, port, 2)


def _phone_links(slug: str) -> list[tuple[str, str]]:
    """Links into the phone pages of the demo's upcoming live, to try them from a desktop."""
    from django.urls import reverse

    from liveloop.lives.models import Live
    from liveloop.promoters.links import own_page_url
    from liveloop.promoters.models import Enrolment, JoinCode

    live = Live.objects.filter(org__slug=slug, state="scheduled").order_by("announced_at").first()
    if live is None:
        return []
    code = JoinCode.objects.filter(programme__live=live, single_use=False, revoked_at=None).first()
    enrolment = Enrolment.objects.filter(programme__live=live, active=True).select_related("promoter").first()
    links = []
    if code:
        links.append(("join (recruit QR) 招募", reverse("phone:join", args=[code.token])))
    if enrolment:
        links.append(("a promoter's page 推广员页", own_page_url(enrolment)))
        links.append(("their invite 邀请页", reverse("phone:invite", args=[live.public_id, enrolment.promoter.code])))
    return links


def _demo_exists(slug: str) -> bool:
    from liveloop.orgs.models import Organisation

    return Organisation.objects.filter(slug=slug).exists()


@main.group(help="Organisations.")
def org():
    pass


@org.command("create", help="Create an organisation; prints its slug and a new API key (once).")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def org_create(name, as_json):
    from liveloop.orgs.services import create_org

    _migrate()
    organisation, key = create_org(name)
    if as_json:
        click.echo(json.dumps({"slug": organisation.slug, "name": organisation.name, "api_key": key},
                              ensure_ascii=False))
    else:
        click.echo(f"slug:    {organisation.slug}")
        click.echo(f"api key: {key}   (shown once: store it now)")


@main.group(help="People who sign in to the web pages.")
def user():
    pass


@user.command("create", help="Create a member who can sign in: a username, the organisation's slug "
              "and a role. The password is asked twice, or read from stdin with --password-stdin.")
@click.argument("username")
@click.argument("slug")
@click.option("--role", type=click.Choice(["owner", "operator", "finance", "viewer"]),
              default="owner", show_default=True)
@click.option("--password-stdin", is_flag=True, help="Read the password from the first line of stdin.")
def user_create(username, slug, role, password_stdin):
    from django.contrib.auth import get_user_model
    from django.contrib.auth.password_validation import validate_password
    from django.core.exceptions import ValidationError
    from django.utils import translation

    from liveloop.orgs.services import add_member

    _migrate()
    organisation = _org(slug)
    username = username.strip()
    if not username or len(username) > 150:
        raise click.ClickException("the username must be 1 to 150 characters")
    # A second `user create` must not silently reset someone's password: that is a
    # takeover by whoever can run the CLI with a guessed name. New names only.
    if get_user_model().objects.filter(username=username).exists():
        raise click.ClickException(f"a user named {username!r} already exists")
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        # The command speaks English throughout; Django would give its rules in the default
        # language (Chinese) and mix the two in one line.
        with translation.override("en"):
            validate_password(password, get_user_model()(username=username))
    except ValidationError as exc:
        raise click.ClickException("the password is refused: " + " ".join(exc.messages)) from None
    add_member(organisation, username, role, password=password)
    click.echo(f"user {username} is {role} of {organisation.slug}; sign in at /login/")


def _read_events(path: Path):
    """Yield decoded events from a JSON array or NDJSON file (UTF-8, with or without a BOM)."""
    bom = b"\xef\xbb\xbf"  # files saved by Windows editors often start with one
    with path.open("rb") as handle:
        head = handle.read(4096).removeprefix(bom).lstrip()
        handle.seek(0)
        if head.startswith(b"["):
            try:
                data = json.loads(handle.read().removeprefix(bom))
            except ValueError as error:  # also a file that is not UTF-8
                raise click.ClickException(f"not a JSON array of events ({error})") from None
            if not isinstance(data, list):
                raise click.ClickException("a JSON file must hold an array of events")
            yield from data
            return
        for number, line in enumerate(handle, 1):
            if number == 1:
                line = line.removeprefix(bom)
            if line.strip():
                try:
                    yield json.loads(line)
                except ValueError as error:  # JSONDecodeError, or a line that is not UTF-8
                    raise click.ClickException(f"line {number}: not JSON ({error})") from None


@main.command("ingest", help="Ingest events from a JSON array or NDJSON file.")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--org", "slug", required=True, help="The organisation's slug.")
@click.option("--batch", default=1000, show_default=True, type=click.IntRange(1, 1000))
def ingest_file(file, slug, batch):
    from tqdm import tqdm

    from liveloop.events.ingest import IngestResult, ingest

    organisation = _org(slug)
    total = IngestResult()
    events = _read_events(file)
    offset = 0
    with tqdm(total=file.stat().st_size, unit="B", unit_scale=True, desc="ingest") as bar:
        position = 0
        while chunk := list(islice(events, batch)):
            result = ingest(organisation, chunk, source="file")
            total.add(result, offset)
            offset += len(chunk)
            # Bytes are an estimate for arrays; the bar still tells how far along we are.
            size = sum(len(json.dumps(e, ensure_ascii=False).encode()) + 1 for e in chunk)
            position += size
            bar.update(size)
    click.echo(f"accepted {total.accepted}, duplicates {total.duplicates}, rejected {len(total.rejected)}")
    for rejection in total.rejected[:20]:
        click.echo(f"  event {rejection['index']} ({rejection['id']}): {rejection['error']}")
    if len(total.rejected) > 20:
        click.echo(f"  … and {len(total.rejected) - 20} more")


@main.command(help="Recompute every derived table from the event log.")
@click.option("--org", "slug", default=None, help="Only this organisation.")
@click.option("--check", is_flag=True, help="Change nothing; exit 1 and name every difference.")
def rebuild(slug, check):
    from django.db import transaction
    from tqdm import tqdm

    from liveloop.events import rebuild as rebuilding
    from liveloop.events.models import Event
    from liveloop.money import check as money_check, ledger
    from liveloop.orgs.models import Organisation

    organisations = [_org(slug)] if slug else list(Organisation.objects.order_by("pk"))
    found = []
    for organisation in organisations:
        count = Event.objects.for_org(organisation).count()
        snapshots = money_check.Snapshots(organisation) if check else None
        with tqdm(total=count, unit="ev", desc=organisation.slug, disable=None) as bar:
            # In parts, each compared or written as it ends (events.rebuild): memory bounded by a part.
            if check:
                replayed, problems = rebuilding.check(organisation, progress=bar.update, stops=snapshots.stops)
            else:
                rebuilding.rebuild(organisation, progress=bar.update)
        if check:
            problems += money_check.differences(organisation, replayed, snapshots)
            found += [f"{organisation.slug}: {p}" for p in problems]
        else:
            # The ledger is never rewritten: what the replay moved is corrected by new entries,
            # after the running totals of its estimates are made again from the entries.
            with transaction.atomic():
                ledger.restore_estimates(organisation)
                corrections = ledger.accrue_open_lives(organisation)
            click.echo(f"{organisation.slug}: rebuilt from {count} events"
                       + (f", {len(corrections)} ledger correction(s)" if corrections else ""))
    if check:
        for line in found[:50]:
            click.echo(line)
        if len(found) > 50:
            click.echo(f"… and {len(found) - 50} more differences")
        if found:
            sys.exit(1)
        click.echo(f"no difference ({len(organisations)} organisation(s))")



@main.command("wechat-emulator", help="Serve a local WeChat emulator: the shop API, web login, "
                                      "the mini-program's server APIs and WeChat Pay's merchant transfers "
                                      "(tests, demo).")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8765, show_default=True, type=int)
@click.option("--appid", required=True)
@click.option("--secret", required=True)
@click.option("--token", required=True, help="The push Token configured for the shop.")
@click.option("--aes-key", required=True, help="The shop's 43-character EncodingAESKey.")
@click.option("--push-url", required=True, help="Liveloop's push URL for the shop.")
@click.option("--app", "apps", multiple=True, metavar="APPID:SECRET",
              help="An official account or mini-program the emulator knows (web login, code2Session, "
                   "URL Links); repeatable.")
@click.option("--tuike", default="", metavar="APPID:SECRET",
              help="The 推客 (联盟带货机构) account it plays (default wxtuike0000000001:tuike-secret).")
@click.option("--tuike-callback", default="", metavar="URL:TOKEN:AESKEY",
              help="Where its signed promoter-bind callbacks go, with the account's Token and EncodingAESKey.")
def wechat_emulator(host, port, appid, secret, token, aes_key, push_url, apps, tuike, tuike_callback):
    from liveloop.integrations.wechat.crypto import CryptoError, aes_key as check_key
    from liveloop.integrations.wechat.emulator import EmulatorServer, Store

    try:
        check_key(aes_key)
    except CryptoError as error:
        raise click.ClickException(str(error)) from None
    store = Store(appid=appid, secret=secret, token=token, aes_key=aes_key, push_url=push_url)
    for app in apps:
        app_id, colon, app_secret = app.partition(":")
        if not colon or not app_id or not app_secret:
            raise click.BadParameter(f"{app!r}: APPID:SECRET", param_hint="--app")
        store.users.apps[app_id] = app_secret
    if tuike:
        store.tuike.appid, colon, store.tuike.secret = tuike.partition(":")
        if not colon or not store.tuike.appid or not store.tuike.secret:
            raise click.BadParameter(f"{tuike!r}: APPID:SECRET", param_hint="--tuike")
    if tuike_callback:
        # The URL has colons of its own: the Token and key are the last two parts.
        url, _sep, rest = tuike_callback.rpartition(":")
        url, _sep, callback_token = url.rpartition(":")
        store.tuike.callback_url, store.tuike.token, store.tuike.aes_key = url, callback_token, rest
    server = EmulatorServer(store, host, port)
    click.echo(f"WeChat shop emulator on {server.base_url}: point the shop's api_base_url (or the "
               f"LIVELOOP_WECHAT_API_BASE setting) at it; POST /emulator/pay, /emulator/refund "
               f"or /emulator/sharer to drive it; /emulator/tuike/... for the 推客 account. WeChat Pay transfers under /v3/: connect an organisation "
               f"with `liveloop wechatpay-emulator-merchant --org SLUG --emulator {server.base_url}`; "
               f"POST /emulator/pay/confirm, /emulator/pay/expire or /emulator/pay/fail to play the receiver")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


@main.command("wechat-worker", help="Turn stored WeChat shop pushes into events.")
@click.option("--once", is_flag=True, help="Handle what is due now, then exit.")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 1000))
@click.option("--interval", default=2.0, show_default=True, type=float,
              help="Seconds to wait when nothing is due.")
def wechat_worker(once, limit, interval):
    from liveloop.integrations.wechat.worker import process

    _work(process, limit, interval, once, lambda o: f"done {o.done}, skipped {o.skipped}, "
                                                    f"retrying {o.retrying}, failed {o.failed}")


def _work(process, limit: int, interval: float, once: bool, said) -> None:
    """A worker's loop: handle what is due, say what was done, wait only when nothing is left."""
    import time

    while True:
        outcome = process(limit=limit)
        if outcome.handled:
            click.echo(said(outcome))
        if once:
            return
        if outcome.handled < limit:
            time.sleep(interval)


@main.command("tuike-worker", help="同步微信推客数据（预约数、推广数据、官方预约码）。"
                                   "Sync WeChat 推客 figures for every linked live on its schedule.")
@click.option("--once", is_flag=True, help="Sync what is due now, then exit.")
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 500))
@click.option("--interval", default=30.0, show_default=True, type=float,
              help="Seconds to wait when nothing is due.")
def tuike_worker(once, limit, interval):
    from liveloop.integrations.tuike.worker import process

    _work(process, limit, interval, once, lambda o: f"synced {o.synced}, failed {o.failed}")


@main.command("tuike-sync", help="立即同步一场直播的微信推客数据。Sync one live's WeChat 推客 figures now.")
@click.option("--org", "slug", required=True, help="The organisation's slug.")
@click.option("--live", "public_id", required=True, help="The live's public id.")
def tuike_sync(slug, public_id):
    from liveloop.integrations.models import TuikeNotice
    from liveloop.integrations.tuike.sync import sync_live

    notice = TuikeNotice.objects.for_org(_org(slug)).filter(live__public_id=public_id).first()
    if notice is None:
        raise click.ClickException(f"live {public_id} is not linked to a WeChat live notice")
    result = sync_live(notice)
    if not result.ok:
        raise click.ClickException(result.reason)
    click.echo(f"synced {result.synced}" + (f"; {result.reason}" if result.reason else ""))


@main.command("tuike-commissions", help="把微信推客佣金单回调写入事件。Turn WeChat's 推客 commission-order "
                                        "callbacks into commission_order events.")
@click.option("--once", is_flag=True, help="Handle what is due now, then exit.")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 1000))
@click.option("--interval", default=5.0, show_default=True, type=float,
              help="Seconds to wait when nothing is due.")
def tuike_commissions(once, limit, interval):
    from liveloop.integrations.tuike.commissions import process

    _work(process, limit, interval, once,
          lambda o: f"recorded {o.recorded}, waiting {o.waiting}, given up {o.given_up}")


@main.command("wechatpay-poll", help="微信支付转账状态查询：查询超过若干分钟未收到结果的转账单，补发未受理的转账。"
                                     "Query WeChat Pay transfers not final after N minutes (the fallback when a "
                                     "callback is lost) and send the ones never accepted.")
@click.option("--once", is_flag=True, help="Query what is due now, then exit.")
@click.option("--minutes", default=10, show_default=True, type=click.IntRange(1, 1440),
              help="Query a transfer not heard of for this long.")
@click.option("--interval", default=60.0, show_default=True, type=float, help="Seconds between rounds.")
def wechatpay_poll(once, minutes, interval):
    import time
    from datetime import timedelta

    from liveloop.money.wechatpay import poll_all

    while True:
        changed = poll_all(older_than=timedelta(minutes=minutes))
        if changed:
            click.echo(f"{changed} transfer(s) changed")
        if once:
            return
        time.sleep(interval)


@main.command("wechatpay-emulator-merchant", help="Connect an organisation to a running WeChat Pay emulator "
                                                  "(`liveloop wechat-emulator`): a fresh merchant key pair and API "
                                                  "v3 key, registered with the emulator and saved in the "
                                                  "organisation's WeChat Pay settings. Never for a real merchant.")
@click.option("--org", "slug", required=True, help="The organisation's slug.")
@click.option("--emulator", "emulator_url", default="http://127.0.0.1:8765", show_default=True)
@click.option("--site", "site_url", default="http://127.0.0.1:8000", show_default=True,
              help="Liveloop's address, where the emulator posts result callbacks.")
@click.option("--appid", default="wxemulatorpay0001", show_default=True,
              help="The AppID whose openids receive (the promoters' openids).")
def wechatpay_emulator_merchant(slug, emulator_url, site_url, appid):
    from liveloop.demo.money import connect_emulator_merchant

    org = _org(slug)
    try:
        merchant = connect_emulator_merchant(org, emulator_url, site_url, appid=appid)
    except OSError as error:
        raise click.ClickException(f"the emulator at {emulator_url} did not answer: {error}") from None
    click.echo(f"{org.slug}: WeChat Pay merchant {merchant.mchid} at {merchant.api_base_url}; "
               f"callbacks to {merchant.notify_url()}")


@main.command("import", help="导入订单、退款、预约或推广员文件（CSV/XLSX）：先检查每一行，再写入。"
                             "Import a CSV or XLSX file of orders, refunds, reservations or promoters.")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--org", "slug", required=True, help="The organisation's slug.")
@click.option("--kind", required=True, type=click.Choice(["orders", "refunds", "reservations", "promoters"]))
@click.option("--live", default=None, help="The live's public id for every row; for promoters, the live to enrol into.")
@click.option("--dry-run", is_flag=True, help="Check every row and list the bad ones; write nothing.")
@click.option("--skip-bad", is_flag=True, help="Import the good rows even when some rows are bad.")
@click.option("--map", "maps", multiple=True, metavar="HEADER=FIELD", help="Read this column as this field (repeatable).")
def import_file_command(file, slug, kind, live, dry_run, skip_bad, maps):
    from liveloop.importers.cli import run_import_command

    sys.exit(run_import_command(_org(slug), file, kind, live=live, dry_run=dry_run,
                                skip_bad=skip_bad, maps=maps))


@main.command("notices", help="Send queued notices (reminders, cancellations, summaries).")
@click.option("--once", is_flag=True, help="Send what is due now, then exit.")
@click.option("--limit", default=100, show_default=True, type=click.IntRange(1, 1000))
@click.option("--interval", default=5.0, show_default=True, type=float,
              help="Seconds to wait when nothing is due.")
def notices(once, limit, interval):
    from liveloop.notify.worker import run

    run(once=once, limit=limit, interval=interval, echo=click.echo)


@main.group(help="Where an organisation's notices go: webhooks and WeCom.")
def channel():
    pass


@channel.command("add-webhook", help="Add a webhook; prints its signing secret (once).")
@click.option("--org", "slug", required=True)
@click.option("--name", required=True)
@click.option("--url", required=True)
@click.option("--secret", default="", help="Use this signing secret instead of a new one.")
def channel_add_webhook(slug, name, url, secret):
    from liveloop.notify.services import ChannelError, add_webhook

    try:
        made = add_webhook(_org(slug), name=name, url=url, secret=secret)
    except ChannelError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"channel {made.pk}")
    if not secret:
        click.echo(f"signing secret: {made.secret}")


@channel.command("add-wecom", help="Add a WeCom application (企业微信应用) channel.")
@click.option("--org", "slug", required=True)
@click.option("--name", required=True)
@click.option("--corp-id", required=True)
@click.option("--agent-id", required=True)
@click.option("--corp-secret", required=True)
def channel_add_wecom(slug, name, corp_id, agent_id, corp_secret):
    from liveloop.notify.services import ChannelError, add_wecom

    try:
        made = add_wecom(_org(slug), name=name, corp_id=corp_id, agent_id=agent_id, corp_secret=corp_secret)
    except ChannelError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"channel {made.pk}")


def _shop(org, appid: str):
    from liveloop.integrations.models import Shop

    shop = Shop.objects.for_org(org).filter(appid=appid).first()
    if shop is None:
        raise click.ClickException(f"no shop with appid {appid!r} in {org.slug}")
    return shop


@main.command("wechat-sync-sharers", help="List the shop's sharers and which promoters they are linked to.")
@click.option("--org", "slug", required=True, help="The organisation's slug.")
@click.option("--shop", "appid", required=True, help="The shop's AppID.")
def wechat_sync_sharers(slug, appid):
    from liveloop.integrations.wechat.client import ShopApiError, ShopUnavailable
    from liveloop.integrations.wechat.sharers import sync_sharers

    try:
        report = sync_sharers(_shop(_org(slug), appid))
    except (ShopApiError, ShopUnavailable) as error:
        raise click.ClickException(str(error)) from None
    for row in report.linked:
        click.echo(f"linked     {row['openid']}  {row['promoter']}  {row['nickname']}")
    for row in report.unmatched:
        hint = f"  (same name as {row['suggestion']})" if row["suggestion"] else ""
        click.echo(f"unmatched  {row['openid']}  {row['nickname']}{hint}")
    for code in report.not_in_shop:
        click.echo(f"not in shop  {code}")
    click.echo(f"{report.total} sharers: {len(report.linked)} linked, {len(report.unmatched)} unmatched")


@main.command("wechat-backfill", help="Ingest the shop's sharer orders of a date range (pushes missed).")
@click.option("--org", "slug", required=True, help="The organisation's slug.")
@click.option("--shop", "appid", required=True, help="The shop's AppID.")
@click.option("--since", required=True, type=click.DateTime(["%Y-%m-%d"]), help="First day, in the organisation's time zone.")
@click.option("--until", required=True, type=click.DateTime(["%Y-%m-%d"]), help="Last day (inclusive).")
def wechat_backfill(slug, appid, since, until):
    from datetime import timedelta
    from zoneinfo import ZoneInfo

    from liveloop.integrations.wechat.client import ShopApiError, ShopUnavailable
    from liveloop.integrations.wechat.sharers import backfill

    from liveloop.rules.dates import FIRST_DAY, LAST_DAY, day_in_range

    for name, day in (("--since", since), ("--until", until)):
        if not day_in_range(day.date()):  # 9999-12-31 plus a day would overflow
            raise click.BadParameter(f"between {FIRST_DAY} and {LAST_DAY}", param_hint=name)
    org = _org(slug)
    zone = ZoneInfo(org.timezone)
    start, end = since.replace(tzinfo=zone), (until + timedelta(days=1)).replace(tzinfo=zone)
    try:
        report = backfill(_shop(org, appid), start, end)
    except (ValueError, ShopApiError, ShopUnavailable) as error:
        raise click.ClickException(str(error)) from None
    click.echo(json.dumps({"orders": report.orders, "accepted": report.accepted,
                           "duplicates": report.duplicates, "unmapped": report.unmapped,
                           "not_in_live": report.not_in_live, "rejected": report.rejected},
                          ensure_ascii=False))


@main.command("demo-shop", help="Sell through the demo's WeChat shop: emulator pushes signed orders to a "
                                "running demo (make demo), the worker ingests them; watch the live room.")
@click.option("--url", default="http://127.0.0.1:8000", show_default=True, help="The running demo.")
@click.option("--interval", default=2.0, show_default=True, type=click.FloatRange(0.1),
              help="Seconds between pushes.")
@click.option("--count", default=0, show_default=True, type=click.IntRange(0),
              help="Pushes to send; 0 goes on until Ctrl-C.")
@click.option("--emulator-port", default=8765, show_default=True, type=click.IntRange(0, 65535))
@click.option("--live", "public_id", default=None, help="Sell in this live (default: the demo's live on "
                                                        "air, else its upcoming one, started now).")
def demo_shop(url, interval, count, emulator_port, public_id):
    from liveloop.demo.seed import DEMO_SLUG
    from liveloop.demo.shop import drive
    from liveloop.lives.models import Live

    organisation = _org(DEMO_SLUG)
    live = None
    if public_id:
        live = Live.objects.for_org(organisation).filter(public_id=public_id).first()
        if live is None:
            raise click.ClickException(f"no live {public_id!r} in the demo")
    try:
        accepted = drive(organisation, url, count=count, interval=interval, emulator_port=emulator_port,
                         live=live, echo=click.echo)
    except (LookupError, OSError) as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"{accepted} pushes accepted")


@main.command("demo-live", help="Put the demo's upcoming live on air and play it: room entries through the "
                                "promoters' links, online samples, follows, captures, and orders and refunds "
                                "through the demo shop's pushes, onto a running demo (make demo).")
@click.option("--url", default="http://127.0.0.1:8000", show_default=True, help="The running demo.")
@click.option("--minutes", default=30.0, show_default=True, type=click.FloatRange(0.5, 600),
              help="How long the live runs; Ctrl-C stops it sooner.")
@click.option("--interval", default=2.0, show_default=True, type=click.FloatRange(0.1, 60),
              help="Seconds between ticks (the room page asks every 2 s).")
@click.option("--ticks", default=0, show_default=True, type=click.IntRange(0),
              help="Play this many ticks at once, without waiting, ending now (tests; 0: in real time).")
@click.option("--seed", default=None, type=int, help="Random seed: same seed, same audience.")
@click.option("--end", is_flag=True, help="End the live when the play stops (its report follows); "
                                          "else it stays on air and another run goes on.")
@click.option("--emulator-port", default=8765, show_default=True, type=click.IntRange(0, 65535))
def demo_live(url, minutes, interval, ticks, seed, end, emulator_port):
    from liveloop.analytics.queries import live_summary
    from liveloop.demo.live import play
    from liveloop.demo.seed import DEMO_SLUG
    from liveloop.demo.shop import room_url
    from liveloop.lib.numbers import yuan

    organisation = _org(DEMO_SLUG)
    try:
        played = play(organisation, url, minutes=minutes, interval=interval, ticks=ticks, seed=seed, end=end,
                      emulator_port=emulator_port, echo=click.echo)
    except (LookupError, OSError) as error:
        raise click.ClickException(str(error)) from None
    figures = live_summary(played.live)
    click.echo(f"{'stopped' if played.interrupted else 'done'}: 进房 {figures['entered']:,} 人 · "
               f"最高在线 {figures['peak_online']:,} · 关注 {figures['follows']:,} · 沉淀私域 {figures['captures']:,} · "
               f"订单 {figures['orders']:,} · 成交 {yuan(figures['gmv'])} · 退款 {yuan(figures['refunded'])}")
    click.echo(f"{played.accepted} of {played.pushes} shop pushes accepted; "
               f"{'the live has ended' if end else 'the live is still on air'}: {room_url(url, played.live)}")
    if played.rejected:
        raise click.ClickException(f"{len(played.rejected)} events were rejected, first: {played.rejected[0]}")


@main.command("reseal-secrets", help="Encrypt every stored integration secret and promoters' phones, "
                                     "bank accounts and payees again under the current "
                                     "LIVELOOP_SECRET_KEY, and rehash the phone index (after a "
                                     "rotation; old keys in LIVELOOP_SECRET_KEY_FALLBACKS).")
def reseal_secrets():
    from django.db import transaction

    from liveloop.at_rest import reseal_rows, sealed_fields

    with transaction.atomic():
        for model, fields in sealed_fields():
            click.echo(f"{model._meta.label}: {reseal_rows(model, fields)} rows resealed ({', '.join(fields)})")


if __name__ == "__main__":
    main()
