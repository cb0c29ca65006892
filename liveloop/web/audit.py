"""The audit log as people read it (docs/decisions.md "Audit log in words").

Rows stay in their machine format (an action code, a target such as "live L4scqn6gt", a JSON
detail with fen and ids): that is what was true when they were written, and tools may read
them. They are put into words here, at display time, in the page's language and the
organisation's zone, so rows written before this module render the same way. An action this
module does not know (a newer one, an older shape of detail) still reads as words, never as a
Python dict and never as an error.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone as dt_timezone

from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.translation import gettext as _, gettext_lazy, pgettext

from liveloop.lib.numbers import yuan
from liveloop.lives.models import Live
from liveloop.money.models import Plan
from liveloop.money.payouts import NO_REASON, NOTHING_TO_PAY, STATE_LABELS
from liveloop.money.wechatpay import STATE_LABELS as TRANSFER_STATES
from liveloop.orgs.zones import zone_label
from liveloop.promoters.models import Promoter, Team
from liveloop.rules import commission as rules
from liveloop.rules.tax_identity import ID_TYPES
from liveloop.web.tables import ROLE_LABELS
from liveloop.web.words import chinese, labelled, listed, named, sentences

ACTIONS = {
    "statement.approve": gettext_lazy("Approve statement"),
    "statement.paid": gettext_lazy("Mark statement paid"),
    "statement.failed": gettext_lazy("Statement payment failed"),
    "statement.retry": gettext_lazy("Pay statement again"),
    "statement.unpaid": gettext_lazy("Statement not paid: waits again"),
    "transfer.state": gettext_lazy("WeChat Pay transfer"),
    "wechatpay.settings": gettext_lazy("Change WeChat Pay merchant"),
    "payout.batch": gettext_lazy("Create payout batch"),
    "payout.results": gettext_lazy("Apply payment results"),
    "statement.release": gettext_lazy("Release statement over the payout ceiling"),
    "promoter.tax_identity": gettext_lazy("Enter promoter's tax details"),
    "promoter.id_reveal": gettext_lazy("Show promoter's ID number in full"),
    "tax.export": gettext_lazy("Export platform tax report"),
    "settlement.run": gettext_lazy("Settle live"),
    "ledger.adjust": gettext_lazy("Adjust ledger"),
    "plan.save": gettext_lazy("Save commission plan"),
    "plan.archive": gettext_lazy("Archive commission plan"),
    "plan.unarchive": gettext_lazy("Offer commission plan again"),
    "plan.choose": gettext_lazy("Choose a live's plan"),
    "team.leadership": gettext_lazy("Set team leader"),
    "money.settings": gettext_lazy("Change money settings"),
    "promoter.link_reissued": gettext_lazy("Re-issue promoter link"),
    "promoter.disabled": gettext_lazy("Disable promoter"),
    "promoter.enabled": gettext_lazy("Enable promoter"),
    "member.add": gettext_lazy("Add member"),
    "member.role": gettext_lazy("Change member role"),
    "member.remove": gettext_lazy("Remove member"),
    "member.sign_in_failed": gettext_lazy("Failed sign-in"),
    "key.create": gettext_lazy("Create API key"),
    "key.revoke": gettext_lazy("Revoke API key"),
    "key.rotate": gettext_lazy("Rotate API key"),
    "settings.timezone": gettext_lazy("Change time zone"),
    "tuike.connect": gettext_lazy("Connect the 推客 account"),
    "tuike.sharers_fetch": gettext_lazy("Fetch bound 推客"),
    "tuike.sharer_link": gettext_lazy("Link a 推客 to a promoter"),
    "tuike.sharer_unlink": gettext_lazy("Unlink a 推客 from a promoter"),
    "tuike.notice_link": gettext_lazy("Link a live to its WeChat notice"),
    "tuike.notice_unlink": gettext_lazy("Unlink a live from its WeChat notice"),
    "tuike.sync": gettext_lazy("Sync 推客 figures"),
    "tuike.relink": gettext_lazy("Move a live to its new WeChat live notice"),
    "tuike.gap_threshold": gettext_lazy("Change the threshold for WeChat's 推客 counts"),
}
# The first part of an action code, for actions added after this table was written.
SUBJECTS = {
    "statement": gettext_lazy("Statement"), "payout": gettext_lazy("Payout"),
    "settlement": gettext_lazy("Settlement"), "ledger": gettext_lazy("Ledger"),
    "plan": gettext_lazy("Commission plan"), "team": gettext_lazy("Team"),
    "money": gettext_lazy("Money settings"), "promoter": gettext_lazy("Promoter"),
    "member": gettext_lazy("Member"), "key": gettext_lazy("API key"),
    "settings": gettext_lazy("Settings"), "live": gettext_lazy("Live"), "tuike": gettext_lazy("推客"),
    "transfer": gettext_lazy("WeChat Pay transfer"), "wechatpay": gettext_lazy("WeChat Pay"),
    "tax": gettext_lazy("Tax report"),
}
# Detail keys as words, for the generic rendering of an unknown action or shape.
DETAIL_LABELS = {
    "amount": gettext_lazy("Amount"), "total": gettext_lazy("Total"), "count": gettext_lazy("Count"),
    "reason": gettext_lazy("Reason"), "role": gettext_lazy("Role"), "state": gettext_lazy("State"),
    "name": gettext_lazy("Name"), "plan": gettext_lazy("Plan"), "live": gettext_lazy("Live"),
    "paid": gettext_lazy("Paid"), "failed": gettext_lazy("Failed"), "before": gettext_lazy("Before"),
    "after": gettext_lazy("After"), "address": gettext_lazy("Address"),
}
MONEY_KEYS = {"amount", "total"}

# A plan's fields in the order people read them, each with how its value is shown.
PLAN_FIELDS = (
    ("rate_bps", gettext_lazy("Rate on net")), ("tiers", gettext_lazy("Tiers")),
    ("reservation_bounty_fen", gettext_lazy("Bounty per reservation")),
    ("new_buyer_bounty_fen", gettext_lazy("Bounty per new buyer")),
    ("effective_view_bounty_fen", gettext_lazy("Bounty per effective view")),
    ("effective_view_cap", gettext_lazy("Most effective views paid")),
    ("cap_fen", gettext_lazy("Cap per promoter per live")),
    ("override_bps", gettext_lazy("Team overrides")),
    ("allow_self_purchase", gettext_lazy("Own purchases earn commission")),
    ("pay_wechat_commissioned", gettext_lazy("Also pay on orders WeChat commissions")),
)
PLAN_DEFAULTS = {name: getattr(rules.Plan(), name) for name, _label in PLAN_FIELDS}


@dataclass
class AuditRow:
    at: datetime
    who: str
    action: str
    what: str
    detail: str
    link: str = ""  # the page of the thing changed, when there is one


def percent(bps) -> str:
    """525 → "5.25%", 1000 → "10%"."""
    whole, part = divmod(int(bps), 100)
    return f"{whole}%" if not part else f"{whole}.{part:02d}".rstrip("0") + "%"


def yes_no(value) -> str:
    return _("yes") if value else _("no")


def when(value) -> str:
    """A stored time (datetime or its text) in the current zone, which org_view sets to the
    organisation's: never a UTC string on the page."""
    if not isinstance(value, datetime):
        value = datetime.fromisoformat(str(value))
    if timezone.is_naive(value):
        value = value.replace(tzinfo=dt_timezone.utc)
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M")


class Names:
    """The names behind the ids on one page of the log, read in one query per kind and always
    within the organisation (a row can only name its own organisation's things)."""

    def __init__(self, org, entries):
        lives, plans, codes, promoter_ids, team_ids = set(), set(), set(), set(), set()
        for entry in entries:
            kind, _space, key = entry.target.partition(" ")
            detail = entry.detail if isinstance(entry.detail, dict) else {}
            if kind == "live":
                lives.add(key)
            elif kind == "plan" and _plan_id(key) is not None:
                plans.add(_plan_id(key))
            elif kind == "promoter":
                codes.add(key)
            if isinstance(detail.get("live"), str):
                lives.add(detail["live"])
            if entry.action == "team.leadership":
                for side in (detail.get("before"), detail.get("after")):
                    if isinstance(side, dict):
                        promoter_ids.update(v for v in [side.get("leader")] if isinstance(v, int))
                        team_ids.update(v for v in [side.get("parent")] if isinstance(v, int))
        self.lives = dict(Live.objects.for_org(org).filter(public_id__in=lives).values_list("public_id", "title"))
        self.plans = dict(Plan.objects.for_org(org).filter(pk__in=plans).values_list("pk", "name"))
        self.promoters = dict(Promoter.objects.for_org(org).filter(code__in=codes).values_list("code", "name"))
        self.promoters_by_id = {pk: (name, code) for pk, name, code in Promoter.objects.for_org(org)
                                .filter(pk__in=promoter_ids).values_list("pk", "name", "code")}
        self.teams = dict(Team.objects.for_org(org).filter(pk__in=team_ids).values_list("pk", "name"))

    def live(self, public_id) -> str:
        title = self.lives.get(public_id)
        return _("live “%(title)s”") % {"title": title} if title else _("live %(id)s") % {"id": public_id}

    def promoter(self, code) -> str:
        name = self.promoters.get(code)
        return named(name, code) if name else code

    def promoter_id(self, pk) -> str:
        if pk is None:
            return _("none")
        name, code = self.promoters_by_id.get(pk, (None, None))
        return named(name, code) if name else _("a removed promoter")

    def team(self, pk) -> str:
        if pk is None:
            return _("none")
        return self.teams.get(pk) or _("a removed team")


def describe(org, entries) -> list[AuditRow]:
    entries = list(entries)
    names = Names(org, entries)
    return [_row(entry, names) for entry in entries]


def _row(entry, names: Names) -> AuditRow:
    detail = entry.detail if isinstance(entry.detail, dict) else {}
    what, link = _target(entry, detail, names)
    try:
        text = DETAILS[entry.action](detail, names) if entry.action in DETAILS else _generic(detail)
    except Exception:  # noqa: BLE001 - an older or unexpected shape is shown as words, never a 500
        text = _generic(detail)
    return AuditRow(at=entry.at, who=_who(entry.actor), action=action_label(entry.action), what=what,
                    detail=text, link=link)


def action_label(action: str) -> str:
    if action in ACTIONS:
        return str(ACTIONS[action])
    subject = SUBJECTS.get(action.partition(".")[0])
    return _("%(subject)s: other change") % {"subject": subject} if subject else _("Other change")


def _who(actor: str) -> str:
    if actor == "system":
        return pgettext("audit actor", "System")
    if actor.startswith("api:"):
        return _("API key %(name)s") % {"name": actor[4:]}
    return actor


def _target(entry, detail: dict, names: Names) -> tuple[str, str]:
    kind, _space, key = entry.target.partition(" ")
    if kind == "live" and key:
        return names.live(key), ""
    if kind == "plan" and _plan_id(key) is not None:
        name = names.plans.get(_plan_id(key)) or detail.get("name") or key
        return _("plan “%(name)s”") % {"name": name}, _url("web:money_plan", _plan_id(key))
    if kind == "promoter" and key:
        # A money change links to the promoter's ledger; anything else to their page.
        page = ("web:money_ledger" if entry.action.startswith("ledger.") or entry.action in LEDGER_ACTIONS
                else "web:promoter")
        return names.promoter(key), _url(page, key)
    if kind == "team" and key:
        return _("team %(name)s") % {"name": key}, ""
    if kind == "period" and key:
        return _("period %(period)s") % {"period": key}, ""
    if entry.target == "organisation" or entry.action == "settings.timezone":
        return _("the organisation"), ""
    if entry.action.startswith(("statement.", "transfer.")) and entry.target:
        return entry.target, _url("web:money_statement", entry.target)
    return entry.target, ""


def _plan_id(key: str) -> int | None:
    """A plan's id from a target, if it can be one (a stored row is not trusted to fit a bigint)."""
    return int(key) if key.isascii() and key.isdigit() and int(key) < 2**63 else None


def _url(name, key) -> str:
    """The page of the thing a row names; none when its key cannot be in a URL."""
    try:
        return reverse(name, args=[key])
    except NoReverseMatch:
        return ""


def _state(state) -> str:
    return str(STATE_LABELS.get(state, state))


def _statement(detail, names) -> str:
    if detail.get("paid_reference") == NOTHING_TO_PAY:
        return _("nothing to pay: closed as paid")
    parts = [_("now %(state)s") % {"state": _state(detail.get("state"))}]
    if detail.get("paid_reference"):
        parts.append(_("payment reference %(reference)s") % {"reference": detail["paid_reference"]})
    if detail.get("paid_at"):
        parts.append(_("paid at %(time)s") % {"time": when(detail["paid_at"])})
    if detail.get("failure") and detail["failure"] != NO_REASON:
        parts.append(_("reason: %(reason)s") % {"reason": detail["failure"]})
    return sentences(parts)


def _settlement(detail, names) -> str:
    return (_("plan “%(plan)s”: %(count)s statements, %(total)s in all (settlement run %(run)s)")
            % {"plan": detail["plan"], "count": f"{detail['statements']:,}", "total": yuan(detail["total"]),
               "run": detail["run"]})


def _batch(detail, names) -> str:
    text = _("%(count)s statements, %(total)s in all") % {"count": f"{detail['count']:,}",
                                                          "total": yuan(detail["total"])}
    if detail.get("channel") != "wechatpay":
        if detail.get("held"):  # a file batch: what the payout ceiling kept out
            text = sentences([text, _("%(held)s held by the payout ceiling") % {"held": f"{detail['held']:,}"}])
        return text
    parts = [text, _("by WeChat Pay transfer")]
    if detail.get("held"):
        parts.append(_("%(count)s statements (%(total)s) held by the daily limits for the next day")
                     % {"count": detail["held"], "total": yuan(detail.get("held_total") or 0)})
    return sentences(parts)


def _transfer(detail, names) -> str:
    """A WeChat Pay bill's new state, its amount in yuan, its out_bill_no and any reason."""
    state = str(TRANSFER_STATES.get(detail.get("state"), detail.get("state")))
    parts = [_("%(amount)s: now %(state)s") % {"amount": yuan(detail["amount"]), "state": state},
             _("merchant bill number %(number)s") % {"number": detail.get("out_bill_no", "")}]
    if detail.get("reason"):
        parts.append(_("reason: %(reason)s") % {"reason": detail["reason"]})
    return sentences(parts)


def _wechatpay_settings(detail, names) -> str:
    return sentences([_("merchant %(mchid)s, AppID %(appid)s, scene %(scene)s")
                      % {"mchid": detail["mchid"], "appid": detail["appid"], "scene": detail["scene"]},
                      _("daily limits: %(receiver)s per receiver, %(merchant)s for the merchant")
                      % {"receiver": yuan(detail["receiver_daily"]), "merchant": yuan(detail["merchant_daily"])}])


def _results(detail, names) -> str:
    return _("%(paid)s paid, %(failed)s failed") % {"paid": detail["paid"], "failed": detail["failed"]}


def _adjust(detail, names) -> str:
    return _("%(amount)s, reason: %(reason)s") % {"amount": yuan(detail["amount"]), "reason": detail["reason"]}


def _plan_value(name, value) -> str:
    if name == "rate_bps":
        return _("none") if value is None else percent(value)
    if name == "tiers":
        tiers = [tuple(tier) for tier in value or ()]
        if not tiers:
            return _("none")
        return ("，" if chinese() else ", ").join(percent(bps) if upper is None and len(tiers) == 1 else
                        (_("above: %(rate)s") % {"rate": percent(bps)} if upper is None else
                         _("up to %(upper)s: %(rate)s") % {"upper": yuan(upper), "rate": percent(bps)})
                        for upper, bps in tiers)
    if name == "override_bps":
        return " + ".join(percent(b) for b in value) if value else _("none")
    if name == "effective_view_cap":
        return _("no limit") if value is None else f"{value:,}"
    if name == "cap_fen":
        return _("no cap") if value is None else yuan(value)
    if name in ("allow_self_purchase", "pay_wechat_commissioned"):
        return yes_no(value)
    return yuan(value or 0)


def _normal(name, value):
    if name == "tiers":
        return tuple(tuple(tier) for tier in value or ())
    if name == "override_bps":
        return tuple(value or ())
    return value


def plan_change(before: dict | None, after: dict) -> list[str]:
    """Each field of a plan that differs, as "label: old → new"; for a new plan (no before),
    each field set away from its default as "label: value"."""
    parts = []
    for name, label in PLAN_FIELDS:
        new = _normal(name, after.get(name, PLAN_DEFAULTS[name]))
        if before is None:
            if new != _normal(name, PLAN_DEFAULTS[name]):
                parts.append(labelled(label, _plan_value(name, new)))
            continue
        old = _normal(name, before.get(name, PLAN_DEFAULTS[name]))
        if old != new:
            parts.append(labelled(label, f"{_plan_value(name, old)} → {_plan_value(name, new)}"))
    return parts


def _plan_save(detail, names) -> str:
    before, after = detail.get("before"), detail["after"]
    parts = [(_("new plan “%(name)s”") if before is None else _("plan “%(name)s”")) % {"name": detail["name"]}]
    changes = plan_change(before, after)
    parts += changes or ([_("rules unchanged")] if before is not None else [])
    if detail.get("default"):
        parts.append(_("the organisation's default plan"))
    return sentences(parts)


def _plan_named(detail, names) -> str:
    return _("plan “%(name)s”") % {"name": detail["name"]}


def _plan_choose(detail, names) -> str:
    plan = detail["plan"]
    return (_("pays by plan “%(name)s”") % {"name": plan}) if plan else _("pays by the organisation's default plan")


def _before_after(label, before, after) -> str:
    return labelled(label, f"{before} → {after}")


def _team(detail, names) -> str:
    before, after = detail["before"], detail["after"]
    return sentences([_before_after(_("leader"), names.promoter_id(before.get("leader")),
                                names.promoter_id(after.get("leader"))),
                  _before_after(_("team above"), names.team(before.get("parent")), names.team(after.get("parent")))])


def _days(value) -> str:
    return _("%(n)s days") % {"n": value}


def _ceiling(fen) -> str:
    return _("no ceiling") if fen is None else yuan(fen)


def _money_settings(detail, names) -> str:
    before, after = detail["before"], detail["after"]
    parts = [_before_after(_("refund window"), _days(before["refund_window_days"]),
                           _days(after["refund_window_days"])),
             _before_after(_("withhold labour-remuneration tax"), yes_no(before["withhold_tax"]),
                           yes_no(after["withhold_tax"]))]
    if "payout_ceiling" in after:  # rows from before the ceiling existed have no such key
        parts.append(_before_after(_("payout ceiling per promoter per batch"),
                                   _ceiling(before.get("payout_ceiling")), _ceiling(after["payout_ceiling"])))
    return sentences(parts)


def _release(detail, names) -> str:
    return (_("%(amount)s paid in the next batch although above the ceiling of %(ceiling)s")
            % {"amount": yuan(detail["amount"]), "ceiling": _ceiling(detail.get("ceiling"))})


def _tax_identity(detail, names) -> str:
    return sentences([labelled(_("legal name"), detail.get("legal_name", "")),
                      labelled(_("ID"), f"{ID_TYPES.get(detail.get('id_type'), '')} {detail.get('id_number', '')}")])


def _tax_export(detail, names) -> str:
    return sentences([_("%(rows)s rows, %(income)s income in all") % {"rows": f"{detail['rows']:,}",
                                                                     "income": yuan(detail["income"])},
                      _("%(missing)s promoters without tax details") % {"missing": detail["missing"]},
                      str(detail.get("format", "")).upper()])


def _role(role) -> str:
    return str(ROLE_LABELS.get(role, role))


def _member(detail, names) -> str:
    if "before" in detail:
        return _before_after(_("role"), _role(detail["before"]), _role(detail["after"]))
    return _("role: %(role)s") % {"role": _role(detail["role"])}


def _live(detail, names) -> str:
    """The live a promoter action was taken in; none when taken on the promoter's own page."""
    return names.live(detail["live"]) if detail.get("live") else ""


def _rotate(detail, names) -> str:
    parts = [_("new key %(prefix)s") % {"prefix": detail["new"]}]
    if detail.get("old_expires"):
        parts.append(_("the old key works until %(time)s") % {"time": when(detail["old_expires"])})
    return sentences(parts)


def _zone(detail, names) -> str:
    return f"{zone_label(detail['before'])} → {zone_label(detail['after'])}"


def _sign_in(detail, names) -> str:
    parts = [_("from %(address)s") % {"address": detail.get("address") or _("an unknown address")}]
    if detail.get("locked"):
        parts.append(_("sign-in locked"))
    return sentences(parts)


def _nothing(detail, names) -> str:
    return ""


def _tuike_connect(detail, names) -> str:
    kind = {"talent": _("a talent's own lives"), "shop": _("a shop-linked account's lives")}.get(
        detail.get("kind"), _value("kind", detail.get("kind", "")))
    return sentences([_("AppID %(appid)s") % {"appid": _value("appid", detail.get("appid", ""))}, kind])


def _tuike_sharer(detail, names) -> str:
    parts = [_("推客 %(name)s (%(appid)s)") % {"name": _value("nickname", detail.get("nickname") or "—"),
                                             "appid": _value("sharer", detail.get("sharer", ""))}]
    if detail.get("by") == "unionid":
        parts.append(_("by the bind callback: the same WeChat user as the promoter's own login"))
    return sentences(parts)


def _tuike_notice(detail, names) -> str:
    return _("WeChat live notice %(notice)s") % {"notice": _value("notice", detail.get("notice", ""))}


def _tuike_fetch(detail, names) -> str:
    return _("%(count)s bound, %(new)s new, %(gone)s no longer bound") % {
        "count": _value("count", detail.get("count", 0)), "new": _value("new", detail.get("new", 0)),
        "gone": _value("unbound", detail.get("unbound", 0))}


def _tuike_sync(detail, names) -> str:
    if detail.get("ok"):
        return _("%(n)s 推客 synced") % {"n": _value("synced", detail.get("synced", 0))}
    return _("failed: the reason is on the live page")


def _relink(detail, names) -> str:
    return sentences([_before_after(_("live notice"), detail["old"], detail["new"]),
                      _("%(n)s 推客 get a new QR code and share link") % {"n": detail.get("sharers", 0)}])


def _gap_threshold(detail, names) -> str:
    return _before_after(_("flag gaps above"), f"{detail['before']}%", f"{detail['after']}%")


DETAILS = {
    "statement.approve": _statement, "statement.paid": _statement, "statement.failed": _statement,
    "statement.retry": _statement, "settlement.run": _settlement, "payout.batch": _batch,
    "payout.results": _results, "ledger.adjust": _adjust, "plan.save": _plan_save,
    "plan.archive": _plan_named, "plan.unarchive": _plan_named, "plan.choose": _plan_choose,
    "team.leadership": _team, "money.settings": _money_settings, "promoter.link_reissued": _live,
    "promoter.disabled": _live, "promoter.enabled": _live,
    "member.add": _member, "member.role": _member, "member.remove": _member,
    "key.create": _nothing, "key.revoke": _nothing, "key.rotate": _rotate,
    "settings.timezone": _zone, "member.sign_in_failed": _sign_in,
    "tuike.connect": _tuike_connect, "tuike.sharers_fetch": _tuike_fetch, "tuike.sharer_link": _tuike_sharer,
    "tuike.sharer_unlink": _tuike_sharer, "tuike.notice_link": _tuike_notice, "tuike.notice_unlink": _tuike_notice,
    "tuike.sync": _tuike_sync,
    "tuike.relink": _relink, "tuike.gap_threshold": _gap_threshold,
    "statement.unpaid": _statement, "transfer.state": _transfer, "wechatpay.settings": _wechatpay_settings,
    "statement.release": _release, "promoter.tax_identity": _tax_identity, "promoter.id_reveal": _nothing,
    "tax.export": _tax_export,
}
# Promoter actions whose page is the promoter's ledger (finance's), not their promoter page.
LEDGER_ACTIONS = {"promoter.tax_identity", "promoter.id_reveal"}


def _value(key, value) -> str:
    if isinstance(value, bool):
        return yes_no(value)
    if value is None:
        return _("none")
    if isinstance(value, int) and (key in MONEY_KEYS or key.endswith("_fen")):
        return yuan(value)
    if isinstance(value, dict):
        return ("，" if chinese() else ", ").join(labelled(DETAIL_LABELS.get(k, k), _value(k, v))
                                                for k, v in value.items())
    if isinstance(value, list):
        return listed(_value(key, v) for v in value)
    return str(value)


def _generic(detail) -> str:
    """Any detail as "label: value" pairs: amounts in yuan, yes/no, nested values spelled out."""
    return sentences(labelled(DETAIL_LABELS.get(key, key), _value(key, value)) for key, value in detail.items())
