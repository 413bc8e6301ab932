"""The report as HTML pages in the reports folder: ``<run_id>.html``, ``index.html`` (the latest
run) and ``history.html`` (the last runs, each linking to its page when it exists).

Pages are self-contained (inline CSS, no script, font or image fetched from anywhere) and never
show the text ``None``: the template environment writes every missing value as a dash.
"""

from __future__ import annotations

from pathlib import Path

from jinja2 import Environment, PackageLoader, select_autoescape

from visitmix.report import formatting as fmt
from visitmix.report import sentences
from visitmix.report.load import load_report
from visitmix.report.model import STANDING_LABELS, STANDINGS, RunReport

HISTORY_PAGE = "history.html"
LATEST_PAGE = "index.html"


def _environment() -> Environment:
    env = Environment(
        loader=PackageLoader("visitmix", "templates"),
        autoescape=select_autoescape(["html"]),
        finalize=lambda value: fmt.NOTHING if value is None else value,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(count=fmt.count, share=fmt.share, duration=fmt.duration, delimiter=fmt.delimiter, text=fmt.text,
                       happened=sentences.happened, limit=sentences.limit)
    env.globals.update(STANDING_LABELS=STANDING_LABELS, STANDINGS=STANDINGS, sentences=sentences, fmt=fmt, HISTORY_PAGE=HISTORY_PAGE,
                       LATEST_PAGE=LATEST_PAGE)
    return env


_ENV = _environment()


def render_run(report: RunReport) -> str:
    """The run's page (HTML text)."""
    return _ENV.get_template("dq_report.html").render(report=report)


def render_history(report: RunReport, pages: set[str]) -> str:
    """The history page (HTML text) of `report.history`; `pages`: run ids that have a page to link to."""
    return _ENV.get_template("history.html").render(report=report, pages=pages)


def write_html(report: RunReport, folder: Path) -> Path:
    """Write ``<folder>/<run_id>.html``, ``index.html`` (this run: the latest) and ``history.html``.

    Returns the run's page. Raises OSError when the folder cannot be written.
    """
    folder.mkdir(parents=True, exist_ok=True)
    html = render_run(report)
    path = folder / f"{report.run_id}.html"
    path.write_text(html, encoding="utf-8")
    (folder / LATEST_PAGE).write_text(html, encoding="utf-8")
    pages = {h.run_id for h in report.history if h.run_id == report.run_id or (folder / f"{h.run_id}.html").is_file()}
    (folder / HISTORY_PAGE).write_text(render_history(report, pages), encoding="utf-8")
    return path


def write_reports(warehouse: Path, run_id: str, folder: Path) -> Path | None:
    """Load the run's report from the warehouse and write its pages; None when the folder is not writable."""
    report = load_report(warehouse, run_id)
    try:
        return write_html(report, folder)
    except OSError:
        return None
