"""The report in a terminal (``visitmix dq-report``): aligned ``rich`` tables, summary first.

Every value is printed as plain text (never parsed as rich markup: an error message may hold
brackets), missing values as a dash, never ``None``. Lines of prose are not cut: the terminal
wraps them, so a message can be copied whole.
"""

from __future__ import annotations

from rich import box
from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

from visitmix.report import formatting as fmt
from visitmix.report import sentences
from visitmix.report.model import STANDING_LABELS, RunReport

_STYLES = {
    "succeeded": "bold green", "passed": "green", "within": "green",
    "failed": "bold red", "error": "bold red", "exceeded": "bold red",
    "warning": "yellow", "not reached": "yellow", "information": "cyan", "not applicable": "cyan", "bound not recorded": "cyan",
}
PIPE_WIDTH = 120  # columns when the output is not a terminal (a pipe, a file, a test)


def console_for_output() -> Console:
    """A console on standard output; `PIPE_WIDTH` wide when that is not a terminal."""
    console = Console(highlight=False)
    return console if console.is_terminal else Console(highlight=False, width=PIPE_WIDTH)


def _t(value: object, style: str = "") -> Text:
    return Text(fmt.text(value), style=style)


def _table(title: str, header: list[str], rows: list[list[object]], numeric: set[int] = frozenset(), whole: set[int] = frozenset()) -> Table:
    """A titled table; `numeric` columns align right, `whole` columns are never wrapped."""
    table = Table(title=Text(title, style="bold"), title_justify="left", box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    for i, name in enumerate(header):
        table.add_column(name, justify="right" if i in numeric else "left", overflow="fold", no_wrap=i in whole)
    for row in rows:
        table.add_row(*(v if isinstance(v, Text | Group) else _t(v) for v in row))
    return table


def _line(console: Console, text: str, style: str = "") -> None:
    console.print(Text(text, style=style), soft_wrap=True)


def print_report(report: RunReport, console: Console) -> None:
    """Print the report of one run: summary (status, error, checks, rows, bounds, files), checks, quarantine."""
    status_style = _STYLES.get(report.status, "")
    console.print(Text.assemble(("visitmix data-quality report: run ", "bold"), (report.run_id, "bold"), " ",
                                (report.status.upper(), status_style)), soft_wrap=True)
    _line(console, report.verdict, status_style)
    _line(console, sentences.when(report))
    if report.run.error_message:
        console.print(Text.assemble(("Error: ", "bold red"), report.run.error_message), soft_wrap=True)
    _line(console, sentences.checks(report))
    for check in report.stopping:
        _line(console, f"  stopped the run: {sentences.stop_line(check)} ({check.name})", "red")
    _line(console, sentences.rows(report))
    if report.sources:
        console.print()
        console.print(_table("Rows per input", ["input", "read", "in scope", "superseded", "quarantined", "accepted"],
                             [[s.label, fmt.count(s.read), fmt.count(s.in_scope), fmt.count(s.superseded), fmt.count(s.quarantined),
                               fmt.count(s.accepted)] for s in report.sources], numeric={1, 2, 3, 4, 5}))
    console.print()
    if report.bounds:
        console.print(_table("Bounds in force ([validation] in the config)", ["bound, on", "this run", "share", "bound", "status"],
                             [[Group(_t(b.key), _t(b.scope, "dim")), b.measured, fmt.share(b.share), sentences.limit(b),
                               _t(b.status, _STYLES.get(b.status, ""))] for b in report.bounds], numeric={2}, whole={0, 3}))
    else:
        _line(console, sentences.unmeasured_bounds(report))
    console.print()
    if report.files:
        console.print(_table("Files read (blank and footer rows skipped)", ["input", "file, sha256", "bytes", "encoding", "delimiter",
                                                                            "blank", "footer"],
                             [[f.source, Group(_t(f.file), _t(f.sha256, "dim")), fmt.count(f.size_bytes), f.encoding,
                               fmt.delimiter(f.delimiter), fmt.count(f.skipped_empty_rows), fmt.count(f.skipped_footer_rows)]
                              for f in report.files], numeric={2, 5, 6}))
    else:
        _line(console, "No file was read before the run ended.")
    console.print()
    if report.checks:
        rows = []
        for c in report.checks:
            what = Group(_t(c.description or "no description recorded"), _t(c.name, "dim"))
            rows.append([_t(STANDING_LABELS[c.standing], _STYLES.get(c.standing, "")), what, fmt.count(c.element_count),
                         fmt.count(c.unexpected_count), sentences.happened(c)])
        console.print(_table("Checks (what stops a run first)", ["outcome", "what is checked", "rows", "unexpected", "what happened"],
                             rows, numeric={2, 3}))
    console.print()
    if report.quarantine:
        console.print(_table(f"Quarantine by cause ({report.rows_quarantined:,} row{'' if report.rows_quarantined == 1 else 's'}, each once, under its first reason)",
                             ["input", "cause", "rows", "first rows"],
                             [[q.source, q.cause, fmt.count(q.rows), ", ".join(q.first_rows)] for q in report.quarantine], numeric={2}))
    else:
        _line(console, "No rows were quarantined.")
    _line(console, f"Run {report.run_id}; config sha256 {fmt.text(report.config_sha256)}. {sentences.zone_note(report)}", "dim")
