"""The schema keeps the organisation first (docs/scaling.md): every unique key of a tenant table
starts with `org`, so a table can be distributed by organisation (Citus) or split into
partitions whose keys carry it, and every index a page reads through starts with it too.

The exceptions are listed here with the reason each exists; a new unique key that does not start
with the organisation fails this test until it is either rewritten or added below, with a line
in docs/scaling.md saying how it scales.
"""
from django.apps import apps
from django.db import models

from liveloop.orgs.models import TenantModel

# Keys that find the organisation from a public URL or credential, before any organisation is
# known: globally unique by design (docs/scaling.md, step 5).
LOOKUP_KEYS = {
    ("orgs.ApiKey", ("digest",)),  # the API key's hash: the bearer token names no organisation
    ("lives.Live", ("public_id",)),  # the invite link /i/<public_id>/<code>/ a viewer opens
    ("promoters.JoinCode", ("token",)),  # the programme's join QR code, /join/<token>/
    ("integrations.Shop", ("push_key",)),  # WeChat's push URL for one shop
    ("integrations.WecomApp", ("callback_key",)),  # WeCom's callback URL for one app
    ("integrations.TuikeAccount", ("callback_key",)),  # WeChat's 推客 callback URL for one account
    ("integrations.WechatPayMerchant", ("notify_key",)),  # WeChat Pay's result callback URL for one merchant
}
# One-to-one with a row of the same organisation (a live's programme, stats, plan, settlement;
# a ledger entry's statement line): unique by that row, which is itself unique within the
# organisation, so (org, that row) is the same key (docs/scaling.md).
ONE_TO_ONE = {
    ("promoters.Programme", ("live",)),
    ("analytics.LiveStats", ("live",)),
    ("money.ProgrammePlan", ("live",)),
    ("money.SettlementRun", ("live",)),
    ("money.StatementLine", ("entry",)),
}


def tenant_models():
    return [m for m in apps.get_models() if issubclass(m, TenantModel)]


def unique_keys(model):
    """Every unique key of the table but its primary key, as (label, fields)."""
    label = model._meta.label
    for field in model._meta.local_fields:
        if field.unique and not field.primary_key:
            yield label, (field.name,)
    for constraint in model._meta.constraints:
        if isinstance(constraint, models.UniqueConstraint) and constraint.fields:
            yield label, tuple(constraint.fields)
    for fields in model._meta.unique_together:
        yield label, tuple(fields)


def test_there_are_tenant_tables_to_check():
    labels = {m._meta.label for m in tenant_models()}
    assert {"events.Event", "events.LiveViewer", "analytics.PromoterStats", "money.Entry"} <= labels
    assert len(labels) >= 30


def test_every_unique_key_of_a_tenant_table_starts_with_the_organisation():
    strays = [key for model in tenant_models() for key in unique_keys(model)
              if key[1][0] != "org" and key not in LOOKUP_KEYS | ONE_TO_ONE]
    assert strays == [], "unique keys not led by org (see docs/scaling.md): " + repr(strays)


def test_the_listed_exceptions_still_exist():
    """A list of exceptions that outlives its keys would hide the next stray."""
    keys = {key for model in tenant_models() for key in unique_keys(model)}
    assert LOOKUP_KEYS | ONE_TO_ONE <= keys


def test_the_one_to_one_keys_point_at_tenant_rows():
    for label, (name,) in ONE_TO_ONE:
        field = apps.get_model(label)._meta.get_field(name)
        assert field.is_relation and issubclass(field.related_model, TenantModel), (label, name)


def test_every_declared_index_of_a_tenant_table_starts_with_the_organisation():
    """The indexes the pages and ingest read through (Meta.indexes), so that each organisation's
    rows are one range of them. The others are the workers' queues, which pick due work across
    every organisation; Django's automatic single-column indexes of foreign keys serve cascades."""
    queues = {("notify.Notice", "notice_due"), ("integrations.PushMessage", "pushmessage_due"),
              ("integrations.TuikeNotice", "tuikenotice_due"),
              ("integrations.TuikeCommissionUpdate", "tuikecommission_due"),
              ("money.Transfer", "transfer_state_updated")}  # wechatpay-poll: bills not final
    strays = [(model._meta.label, index.name) for model in tenant_models() for index in model._meta.indexes
              if index.fields[0] != "org" and (model._meta.label, index.name) not in queues]
    assert strays == []


def test_the_organisation_key_has_no_lone_index():
    # Every tenant key starts with it already; a lone index misleads PostgreSQL's planner.
    for model in tenant_models():
        assert model._meta.get_field("org").db_index is False, model._meta.label
