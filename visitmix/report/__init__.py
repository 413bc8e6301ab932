"""The data-quality report of one run, from the audit tables: HTML pages, Markdown, terminal text.

An auditor's questions — can this run be trusted, what was loaded, what was rejected and why,
which checks ran and how close the run came to its bounds — answered from
``audit.pipeline_run``, ``audit.source_file``, ``audit.dq_result`` and ``audit.quarantine``,
summary first. Reports never show cell values: counts, quarantine reasons and error messages
(built without them) and ``file:row`` references only; the raw rows stay in
``audit.quarantine``, in the warehouse only.

* :mod:`visitmix.report.load` reads a run (:func:`load_report`) into :mod:`visitmix.report.model`;
* :mod:`visitmix.report.pages` writes the HTML pages, :mod:`visitmix.report.markdown` the Prefect
  artifact, :mod:`visitmix.report.terminal` the ``visitmix dq-report`` output;
* what each check checks is in :mod:`visitmix.check_descriptions`.
"""

from __future__ import annotations

from visitmix.report.load import load_report
from visitmix.report.markdown import to_markdown
from visitmix.report.model import RunReport
from visitmix.report.pages import write_html, write_reports
from visitmix.report.terminal import console_for_output, print_report

__all__ = ["RunReport", "console_for_output", "load_report", "print_report", "to_markdown", "write_html", "write_reports"]
