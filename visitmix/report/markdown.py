"""The report as Markdown, for the Prefect artifact ``visit-mix-dq-report``: summary first, then
the checks (what stops a run first), then the quarantine by cause. Never the text ``None``."""

from __future__ import annotations

from visitmix.report import formatting as fmt
from visitmix.report import sentences
from visitmix.report.model import STANDING_LABELS, RunReport


def _cell(value: object) -> str:
    return fmt.text(value).replace("|", "\\|").replace("\n", " ")


def _table(header: list[str], rows: list[list[object]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_cell(v) for v in row) + " |" for row in rows]
    return lines + [""]


def to_markdown(report: RunReport) -> str:
    """The whole report as Markdown: summary (status, checks, rows per input, bounds, files), checks, quarantine."""
    lines = [f"# visitmix data-quality report: run `{report.run_id}` {report.status}", "", "## Summary", "",
             f"**{report.verdict}**", "", sentences.when(report), ""]
    if report.run.error_message:
        lines += [f"**Error:** {_cell(report.run.error_message)}", ""]
    lines += [f"- {sentences.checks(report)}", f"- {sentences.rows(report)}"]
    lines += [f"- Stopped the run: {_cell(sentences.stop_line(c))} (`{c.name}`)" for c in report.stopping]
    lines += ["", "### Rows per input", ""]
    if report.sources:
        lines += _table(["input", "read", "in scope", "superseded", "quarantined", "accepted"],
                        [[s.label, fmt.count(s.read), fmt.count(s.in_scope), fmt.count(s.superseded), fmt.count(s.quarantined),
                          fmt.count(s.accepted)] for s in report.sources])
    else:
        lines += ["No input was counted before the run ended.", ""]
    lines += ["### Bounds in force", "", "The `[validation]` settings of the run, and how close it came to each.", ""]
    if report.bounds:
        lines += _table(["bound", "on", "this run", "share", "bound", "status"],
                        [[b.key, b.scope, b.measured, fmt.share(b.share), sentences.limit(b), b.status] for b in report.bounds])
    else:
        lines += [sentences.unmeasured_bounds(report), ""]
    lines += ["### Files read", ""]
    if report.files:
        lines += _table(["input", "file", "bytes", "encoding", "delimiter", "blank rows skipped", "footer rows skipped", "sha256"],
                        [[f.source, f.file, fmt.count(f.size_bytes), f.encoding, fmt.delimiter(f.delimiter),
                          fmt.count(f.skipped_empty_rows), fmt.count(f.skipped_footer_rows), f"`{f.sha256}`" if f.sha256 else None]
                         for f in report.files])
    else:
        lines += ["No file was read before the run ended.", ""]
    lines += ["## Checks", "", "Errors first, then failed checks that stop the run, warnings, information, and passed checks.", ""]
    if report.checks:
        lines += _table(["outcome", "what is checked", "check", "rows", "unexpected", "what happened"],
                        [[STANDING_LABELS[c.standing], c.description or "no description recorded", f"`{c.name}`",
                          fmt.count(c.element_count), fmt.count(c.unexpected_count), sentences.happened(c)] for c in report.checks])
    else:
        lines += [sentences.checks(report), ""]
    lines += ["## Quarantine by cause", ""]
    if report.quarantine:
        lines += [f"{report.rows_quarantined:,} rows held back; each row is counted once, under its first reason.", ""]
        lines += _table(["input", "cause", "rows", "first rows"],
                        [[q.source, q.cause, fmt.count(q.rows), ", ".join(q.first_rows)] for q in report.quarantine])
        lines += ["The rows themselves are in `audit.quarantine`, in the warehouse only.", ""]
    else:
        lines += ["No rows were quarantined.", ""]
    lines += ["## Run", "", f"- run id `{report.run_id}`; Prefect flow run {_cell(report.flow_run_id)}",
              "- config sha256 " + (f"`{report.config_sha256}`" if report.config_sha256 else fmt.NOTHING),
              f"- {sentences.zone_note(report)}"]
    return "\n".join(lines) + "\n"
