"""The body of `liveloop import`: the click command in liveloop/cli.py only parses options."""
from __future__ import annotations

import click

from liveloop.importers.columns import HeaderError, parse_overrides
from liveloop.importers.run import ImportFileError, ImportReport, import_file


def run_import_command(org, path, kind: str, *, live: str | None = None, dry_run: bool = False,
                       skip_bad: bool = False, maps=(), echo=click.echo) -> int:
    """Import, print the summary, and return the exit status: 1 when the file has bad rows and
    nothing was written because of them (a dry run, or a refused real run), else 0."""
    try:
        report = import_file(org, path, kind, live=live, mapping=parse_overrides(maps),
                             dry_run=dry_run, skip_bad=skip_bad)
    except (ImportFileError, HeaderError) as error:
        raise click.ClickException(str(error)) from None
    for line in summary(report):
        echo(line)
    return 1 if report.rejected and (report.dry_run or report.refused) else 0


def summary(report: ImportReport) -> list[str]:
    if report.dry_run:
        head = "试运行，未写入 (dry run, nothing written)"
    elif report.refused:
        head = "未导入：文件有错误行，修正后重试，或加 --skip-bad 只导入正确的行 (refused: bad rows found)"
    else:
        head = "已导入 (imported)"
    lines = [head,
             f"行数 rows: {report.rows}",
             f"{'可导入 valid' if not report.written else '接受 accepted'}: {report.accepted}"]
    if report.written:
        lines.append(f"重复 duplicates: {report.duplicates}")
    lines.append(f"错误行 rejected: {report.rejected}")
    if report.notes:
        lines.append(f"推广员不在本场计划中（保留，不计归因） promoter not in programme: {report.notes}")
    if report.ignored:
        lines.append(f"忽略的列 ignored columns: {', '.join(report.ignored)}")
    for problem in report.problems:
        lines.append(f"  第 {problem.row} 行 row {problem.row}  [{problem.column or '-'}]  {problem.reason}")
    if report.rejected > len(report.problems):
        lines.append(f"  … 另有 {report.rejected - len(report.problems)} 行未列出 (more not listed)")
    return lines
