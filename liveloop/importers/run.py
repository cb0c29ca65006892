"""The import: a checking pass over the whole file, then (unless a dry run) a writing pass.

The checking pass converts every row and validates it with the contract's own rules
(`parse_event`) plus what only the importer knows (a live that does not exist, a value that is
not an amount), and writes nothing. The writing pass streams the file again and hands events
to `ingest` in batches, so memory stays flat however long the file is, and each batch commits
on its own: an interrupted import is finished by importing the same file again, since event ids
come from the rows and what went in already counts as duplicates.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

from django.db import transaction

from liveloop.analytics.fraud import refresh_self_referrals
from liveloop.events.ingest import ingest
from liveloop.importers.columns import KINDS, HeaderError, HeaderMap, map_headers
from liveloop.importers.events import CONVERTERS, Context, Row, RowError
from liveloop.importers.readers import ReadError, open_table
from liveloop.lives.models import Live
from liveloop.promoters.models import Enrolment, Promoter
from liveloop.actions.promoters import EnrolmentError, enrol
from liveloop.rules.events import EventError, parse_event

BATCH = 1000
LISTED = 1000  # bad rows listed in a report; all of them are counted
_FIELD = re.compile(r"^([a-z_]+)(?:\.\w+)?: ")


class ImportFileError(ValueError):
    """The file as a whole cannot be imported: unreadable, a required column missing, an
    unknown live."""


@dataclass(frozen=True)
class Problem:
    row: int  # as in the file: the header is row 1
    column: str  # the file's header, "" when the reason is about the whole row
    reason: str


@dataclass
class ImportReport:
    kind: str
    dry_run: bool
    rows: int = 0
    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0
    problems: list[Problem] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)  # headers no field uses
    notes: int = 0  # events kept whose promoter is not in the live's programme
    refused: bool = False  # a real run that did not start because the file has bad rows

    def bad(self, row: int, column: str, reason: str) -> None:
        self.rejected += 1
        if len(self.problems) < LISTED:
            self.problems.append(Problem(row, column, reason))

    @property
    def written(self) -> bool:
        return not self.dry_run and not self.refused


def import_file(org, path, kind: str, *, live: str | None = None, mapping: dict | None = None,
                dry_run: bool = False, skip_bad: bool = False, progress: bool | None = None,
                now: datetime | None = None) -> ImportReport:
    """Import one CSV or XLSX file of `kind` into `org`. A real run first checks the whole
    file and refuses to start when any row is bad, unless `skip_bad`."""
    if kind not in KINDS:
        raise ImportFileError(f"unknown kind {kind!r}: one of {', '.join(KINDS)}")
    now = now or datetime.now(timezone.utc)
    programme = None
    if live is not None:
        found = Live.objects.for_org(org).filter(public_id=live).select_related("programme").first()
        if found is None:
            raise ImportFileError(f"--live {live}: no such live in this organisation")
        programme = found.programme
    if kind == "promoters" and programme is None:
        raise ImportFileError("promoters are imported into a live's programme: give --live")
    context = Context(zone=ZoneInfo(org.timezone), live=live,
                      sharers=dict(Promoter.objects.for_org(org).exclude(openid="")
                                   .values_list("openid", "code")))
    checked = _pass(org, path, kind, mapping, context, now, progress, write=False)
    if dry_run:
        return checked
    if checked.rejected and not skip_bad:
        checked.dry_run, checked.refused = False, True
        return checked
    return _pass(org, path, kind, mapping, context, now, progress, write=True, programme=programme)


def _pass(org, path, kind, mapping, context, now, progress, *, write: bool, programme=None):
    report = ImportReport(kind=kind, dry_run=not write)
    try:
        with open_table(path, progress) as table:
            try:
                columns = map_headers(table.header, kind, mapping, live_given=context.live is not None)
            except HeaderError as error:
                raise ImportFileError(str(error)) from None
            if columns.error():
                raise ImportFileError(columns.error())
            report.ignored = columns.ignored
            if kind == "promoters":
                _promoters(table.rows, columns, context, report, programme if write else None)
            elif write:
                _write_events(org, table.rows, columns, context, report, now)
            else:
                _check_events(org, table.rows, columns, context, report, now)
    except ReadError as error:
        raise ImportFileError(str(error)) from None
    return report


def _convert(kind, columns, cells, context):
    return CONVERTERS[kind](Row(columns, cells), context)


def _event_problem(columns: HeaderMap, message: str) -> tuple[str, str]:
    """An error of the contract ("amount: must not be negative") → (the file's column, reason)."""
    match = _FIELD.match(message)
    if match is None:
        return "", message
    name = match.group(1)
    column = columns.column(name) if name in columns.fields else ""
    return column, message[match.end():] if column else message


def _check_events(org, rows, columns, context, report, now) -> None:
    lives: dict[str, bool] = {}
    for number, cells in rows:
        report.rows += 1
        try:
            event = _convert(report.kind, columns, cells, context)
            parse_event(event, now)
        except RowError as error:
            report.bad(number, error.column, error.reason)
            continue
        except EventError as error:
            report.bad(number, *_event_problem(columns, str(error)))
            continue
        public_id = event["live"]
        if public_id not in lives:
            lives[public_id] = Live.objects.for_org(org).filter(public_id=public_id).exists()
        if not lives[public_id]:
            report.bad(number, columns.column("live"), f"unknown live {public_id!r} in this organisation")
            continue
        report.accepted += 1


def _write_events(org, rows, columns, context, report, now) -> None:
    batch, numbers = [], []

    def flush():
        result = ingest(org, batch, source="import", now=now)
        report.accepted += result.accepted
        report.duplicates += result.duplicates
        report.notes += len(result.notes)
        for rejected in result.rejected:
            report.bad(numbers[rejected["index"]], *_event_problem(columns, rejected["error"]))
        batch.clear()
        numbers.clear()

    for number, cells in rows:
        report.rows += 1
        try:
            batch.append(_convert(report.kind, columns, cells, context))
        except RowError as error:
            report.bad(number, error.column, error.reason)
            continue
        numbers.append(number)
        if len(batch) >= BATCH:
            flush()
    if batch:
        flush()


def _promoters(rows, columns, context, report, programme) -> None:
    """Check each row, and with a programme enrol each person: one row, one transaction, so a
    person the programme refuses (full, a phone that belongs to another code) is a bad row."""
    for number, cells in rows:
        report.rows += 1
        try:
            person, openid = _convert("promoters", columns, cells, context)
        except RowError as error:
            report.bad(number, error.column, error.reason)
            continue
        if programme is None:
            report.accepted += 1
            continue
        try:
            with transaction.atomic():
                before = Enrolment.objects.for_org(programme.org).filter(programme=programme).count()
                promoter = enrol(programme, [person])[0]
                if openid and promoter.openid != openid:
                    _set_openid(promoter, openid, columns)
                after = Enrolment.objects.for_org(programme.org).filter(programme=programme).count()
        except EnrolmentError as error:
            report.bad(number, "", str(error))
            continue
        except RowError as error:
            report.bad(number, error.column, error.reason)
            continue
        if after > before:
            report.accepted += 1
        else:
            report.duplicates += 1


def _set_openid(promoter: Promoter, openid: str, columns: HeaderMap) -> None:
    if promoter.openid:
        raise RowError(columns.column("openid"),
                       f"promoter {promoter.code} already sells as another openid")
    owner = Promoter.objects.for_org(promoter.org).filter(openid=openid).exclude(pk=promoter.pk).first()
    if owner is not None:
        raise RowError(columns.column("openid"), f"openid already belongs to promoter {owner.code}")
    Promoter.objects.filter(pk=promoter.pk).update(openid=openid)
    refresh_self_referrals(promoter.org, [promoter.pk])  # own ids moved (rules.fraud)
