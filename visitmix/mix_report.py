"""``visitmix report``: the visit-mix page for sales leaders, one self-contained HTML file.

Read from the published marts only (a read-only connection; queries in ``sql/report/mix_*.sql``):
the visit mix of the company and of each team over the last periods against the target mix
(stacked bars from ``marts.visit_mix``, Plotly with its JavaScript inlined, so the page opens
offline), the reps furthest from their target in the latest complete period, the KPIs of
``marts.visit_kpi`` that the warehouse has (a KPI whose window has not passed is not shown as a
number), and the run the marts came from with a relative link to its data-quality report.

**This page shows rep and team names**, as the marts do: it is for sales leaders, who see their own
people. That is unlike the data-quality report (``visitmix/report.py``), which never shows a cell
value. It shows no account names, no raw rows and nothing from ``audit.quarantine``.

Shares stay fractions in 0..1 in the page's data (the chart JSON holds the marts' values unrounded);
the page shows them as percentages. A period is *complete* when its last day is on or before the
data's as-of date (the latest date of a visit that took place: completed, cancelled or no-show) and
before the day the run finished (``sql/report/mix_as_of.sql``).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import duckdb
from jinja2 import Environment, PackageLoader, select_autoescape

from visitmix.duck import open_read_only
from visitmix.errors import VisitmixError
from visitmix.paths import SQL_DIR

GRAINS = ("week", "month", "quarter")
DEFAULT_PERIODS = {"week": 12, "month": 6, "quarter": 4}  # about a quarter, half a year, a year
KPI_GRAINS = ("month", "quarter")  # the grains marts.visit_kpi has; a weekly page shows monthly KPIs
DEFAULT_REPS = 10

# (visit_type, label, colour): the labels as marts.fct_visit.visit_type_label writes them
VISIT_TYPES = (
    ("new_prospect", "New Prospect Visit", "#0072b2"),
    ("hot_prospect", "Hot Prospect Visit", "#e69f00"),
    ("existing_customer", "Existing Customer Visit", "#009e73"),
)
FONT_STACK = '"Noto Sans", "Noto Sans Thai", "Segoe UI", "Leelawadee UI", Tahoma, Thonburi, "Helvetica Neue", Arial, sans-serif'
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


@dataclass(frozen=True)
class Kpi:
    column: str  # the share column in marts.visit_kpi
    label: str
    numerator: str
    denominator: str
    window_flag: str | None  # published only where this flag is true
    meaning: str


# The formulas live in sql/marts/60_visit_kpi.sql; these are the page's names for them.
KPIS = (
    Kpi("existing_customer_coverage_share", "Existing-customer coverage", "covered_customers", "customers_at_start", None,
        "of the accounts that were customers at the start of the period, those visited at least once in it"),
    Kpi("new_to_hot_progression_share", "New → hot progression", "progressed_new_visits", "new_prospect_visits",
        "is_progression_window_complete", "of the new-prospect visits, those followed by another visit to the account within the progression window"),
    Kpi("hot_to_won_share", "Hot → won", "won_hot_accounts", "hot_accounts", "is_win_window_complete",
        "of the accounts with hot-prospect visits, those that became customers within the win window"),
    Kpi("plan_adherence_share", "Plan adherence", "completed_visits", "resolved_visits", None,
        "of the visits whose plan resolved (completed, cancelled, no-show), the completed ones"),
    Kpi("reported_type_mismatch_share", "Reported-type mismatch", "mismatched_labels", "labelled_visits", None,
        "of the classified visits with the rep's own label, those whose label names another type"),
)


@dataclass(frozen=True)
class Period:
    start: date
    end: date
    is_complete: bool
    label: str


@dataclass(frozen=True)
class KpiShown:
    kpi: Kpi
    period_label: str
    rows: list[dict]  # company first, then teams: level_key, value, numerator, denominator


@dataclass
class MixPage:
    warehouse: Path
    grain: str
    periods: list[Period]
    as_of_date: date
    complete_through: date
    charts: list[dict]  # id, level, scope, title, period_starts, figure
    reps: list[dict]
    reps_limit: int
    kpi_grain: str | None
    kpis: list[KpiShown] = field(default_factory=list)
    kpis_missing: list[tuple[str, str]] = field(default_factory=list)  # (label, why)
    run: dict | None = None  # the run the marts came from
    later_failed_run: dict | None = None
    timezone: str = "UTC"

    @property
    def latest(self) -> Period:
        return self.periods[-1]

    @property
    def kpi_gaps(self) -> bool:
        """Whether the KPI table has a cell without a number (shown as a dash, explained under it)."""
        return any(cell is None or cell["value"] is None for row in self.kpi_table for cell in row["cells"])

    @property
    def kpi_table(self) -> list[dict]:
        """The company, then each team: per KPI shown, its cell (value, numerator, denominator) or None."""
        keys: dict[tuple[str, str], None] = {}
        for shown in self.kpis:
            for row in shown.rows:
                keys.setdefault((row["level"], row["level_key"]), None)
        return [
            {"title": "Company (all teams)" if level == "company" else key,
             "cells": [next((r for r in shown.rows if (r["level"], r["level_key"]) == (level, key)), None) for shown in self.kpis]}
            for level, key in keys
        ]


def _rows(con: duckdb.DuckDBPyConnection, query: str, params: dict | None = None) -> list[dict]:
    """Rows of ``sql/report/<query>.sql`` as dicts (small results)."""
    result = con.execute((SQL_DIR / "report" / f"{query}.sql").read_text(encoding="utf-8"), params or {})
    names = [d[0] for d in result.description]
    return [dict(zip(names, row, strict=True)) for row in result.fetchall()]


def period_label(grain: str, start: date) -> str:
    """``May 2026``, ``2026-W21`` (ISO week) or ``2026 Q2``."""
    if grain == "week":
        iso = start.isocalendar()
        return f"{iso.year}-W{iso.week:02d}"
    if grain == "quarter":
        return f"{start.year} Q{(start.month - 1) // 3 + 1}"
    return f"{_MONTHS[start.month - 1]} {start.year}"


def _local(instant: datetime | None, zone: str) -> datetime | None:
    if instant is None:
        return None
    if instant.tzinfo is None:  # DuckDB returns TIMESTAMPTZ aware; a naive value is UTC
        instant = instant.replace(tzinfo=UTC)
    return instant.astimezone(ZoneInfo(zone))


def load_mix(
    warehouse: Path, grain: str = "month", periods: int | None = None, reps: int = DEFAULT_REPS, timezone: str | None = None
) -> MixPage:
    """Read the page's numbers from the published marts, read-only.

    Raises VisitmixError when the warehouse does not exist, cannot be opened, or has no marts yet.
    """
    if grain not in GRAINS:
        raise VisitmixError(f"grain must be one of {', '.join(GRAINS)}, not '{grain}'")
    count = periods or DEFAULT_PERIODS[grain]
    zone = timezone  # None: the published run's recorded zone (see _load)
    if not warehouse.exists():
        raise VisitmixError(f"warehouse '{warehouse}' does not exist: run `visitmix run` first")
    con = open_read_only(warehouse)
    try:
        return _load(con, warehouse, grain, count, reps, zone)
    finally:
        con.close()


def _load(con: duckdb.DuckDBPyConnection, warehouse: Path, grain: str, count: int, reps_limit: int, zone: str | None) -> MixPage:
    from visitmix.warehouse import foreign, is_ours

    tables = {r["table_name"] for r in _rows(con, "mix_tables")}
    ours = is_ours(con)
    if not {"visit_mix", "fct_visit", "dim_rep"} <= tables:
        latest = _rows(con, "mix_runs") if ours else []
        failed = next((r for r in latest if r["role"] == "latest" and r["status"] != "succeeded"), None)
        if failed:  # runs were made, none published: say so, not "run visitmix run"
            raise VisitmixError(f"warehouse '{warehouse}' has no published marts: no run has succeeded yet (the last one, "
                                f"{failed['run_id']}, {failed['status']}; `visitmix dq-report` says why)")
        raise VisitmixError(f"warehouse '{warehouse}' has no published marts yet (marts.visit_mix): run `visitmix run` first")
    if not ours:
        raise foreign(warehouse)
    runs = {r["role"]: r for r in _rows(con, "mix_runs")}
    run = runs.get("published")
    latest_run = runs.get("latest")
    if zone is None:  # --warehouse without --config: the zone the run recorded (older warehouses: UTC)
        recorded = _rows(con, "mix_run_zone", {"run_id": run["run_id"]}) if run else []
        zone = recorded[0]["timezone"] if recorded and recorded[0]["timezone"] else "UTC"
    finished = _local(run["finished_at"], zone) if run else datetime.now(ZoneInfo(zone))
    (bounds,) = _rows(con, "mix_as_of", {"finished_date": finished.date()})
    if bounds["as_of_date"] is None:
        raise VisitmixError(f"warehouse '{warehouse}' has no visit that took place yet (completed, cancelled or no-show; "
                            "planned ones lie ahead): nothing to show")
    complete_through = bounds["complete_through"]
    started = [
        Period(r["period_start"], r["period_end"], r["is_complete"], period_label(grain, r["period_start"]))
        for r in _rows(con, "mix_periods", {"grain": grain, "complete_through": complete_through})
    ]
    shown = [p for p in started if p.is_complete][-count:] or started[-1:]  # no complete period yet: the latest, flagged
    if not shown:
        raise VisitmixError(f"warehouse '{warehouse}' has no {grain} in marts.visit_mix on or before {complete_through}: nothing to show")
    mix = _rows(con, "mix_teams", {"grain": grain, "first_period": shown[0].start, "last_period": shown[-1].start})
    page = MixPage(
        warehouse=warehouse, grain=grain, periods=shown, as_of_date=bounds["as_of_date"], complete_through=complete_through,
        charts=_charts(mix, shown, grain), reps=_rows(con, "mix_reps", {"grain": grain, "period_start": shown[-1].start, "limit": reps_limit}),
        reps_limit=reps_limit, kpi_grain=None, timezone=zone,
    )
    if run:
        page.run = {**run, "finished_local": finished}
    if latest_run and run and latest_run["run_id"] != run["run_id"] and latest_run["status"] != "succeeded":
        page.later_failed_run = {**latest_run, "finished_local": _local(latest_run["finished_at"], zone)}
    if "visit_kpi" in tables:
        page.kpi_grain = grain if grain in KPI_GRAINS else "month"
        _kpis(page, _rows(con, "mix_kpi", {"grain": page.kpi_grain, "complete_through": complete_through}))
    return page


def _kpis(page: MixPage, rows: list[dict]) -> None:
    """Per KPI the column has: the newest complete period whose company value is published (its
    window passed), with the teams' values for that period."""
    if not rows:
        page.kpis_missing.append(("every KPI", f"marts.visit_kpi has no complete {page.kpi_grain} yet"))
        return
    for kpi in KPIS:
        if kpi.column not in rows[0]:
            continue  # this warehouse's visit_kpi has no such column: nothing to show

        def published(row: dict, kpi: Kpi = kpi) -> bool:
            return row[kpi.column] is not None and (kpi.window_flag is None or row.get(kpi.window_flag) is True)

        company = [r for r in rows if r["level"] == "company" and published(r)]
        if not company:
            has_data = any(r["level"] == "company" and (r.get(kpi.denominator) or 0) > 0 for r in rows)
            why = "no complete period has passed its window yet" if kpi.window_flag and has_data else "the data has nothing to count for it"
            page.kpis_missing.append((kpi.label, why))
            continue
        start = company[0]["period_start"]  # rows are newest first
        chosen = [
            {"level": r["level"], "level_key": r["level_key"], "value": r[kpi.column] if published(r) else None,
             "numerator": r.get(kpi.numerator), "denominator": r.get(kpi.denominator)}
            for r in rows if r["period_start"] == start
        ]
        page.kpis.append(KpiShown(kpi, period_label(page.kpi_grain or "month", start), chosen))


def _ticks(grain: str, periods: list[Period]) -> tuple[list[str], list[str]]:
    """Short x-axis labels that fit a chart a third of 1280 px wide: ``Dec<br>2025``, ``Q2<br>2026``,
    ``W23`` (the years are in the page's heading); at most 8, always the latest period's."""
    step = -(-len(periods) // 8)
    shown = periods[::-1][::step][::-1]
    if grain == "week":
        text = [p.label.split("-")[-1] for p in shown]
    elif grain == "quarter":
        text = [f"Q{(p.start.month - 1) // 3 + 1}<br>{p.start.year}" for p in shown]
    else:
        text = [p.label.replace(" ", "<br>") for p in shown]
    return [p.label for p in shown], text


def _charts(mix: list[dict], periods: list[Period], grain: str) -> list[dict]:
    """One stacked-bar figure per scope (the company, then each team), as Plotly JSON (dicts)."""
    import plotly.graph_objects as go

    scopes: dict[tuple[str, str], dict[date, dict]] = {}
    for row in mix:
        scopes.setdefault((row["level"], row["level_key"]), {})[row["period_start"]] = row
    labels = [p.label for p in periods]
    tickvals, ticktext = _ticks(grain, periods)
    charts = []
    for index, ((level, key), by_period) in enumerate(scopes.items()):
        rows = [by_period.get(p.start) for p in periods]
        figure = go.Figure()
        for visit_type, label, colour in VISIT_TYPES:
            figure.add_trace(go.Bar(
                name=label, x=labels, y=[r[f"{visit_type}_share"] if r else None for r in rows],
                customdata=[[r[f"{visit_type}_visits"], r["visits_total"]] if r else [None, None] for r in rows],
                marker_color=colour,
                hovertemplate="%{fullData.name}: %{y:.1%}<br>%{customdata[0]} of %{customdata[1]} visits<extra></extra>",
            ))
        # Targets: a dash across each bar where the top of its New and of its Hot segment would be if the
        # mix were on target (shapes, so they span the bar at any width), and hover points on the same spots.
        boundary = [0.0 if r and r["target_new_prospect_share"] is not None else None for r in rows]
        for visit_type, label, _colour in VISIT_TYPES[:2]:
            targets = [r[f"target_{visit_type}_share"] if r else None for r in rows]
            boundary = [b + t if b is not None and t is not None else None for b, t in zip(boundary, targets, strict=True)]
            figure.add_trace(go.Scatter(
                name=f"Target: {label}", x=labels, y=boundary, customdata=targets, mode="markers", showlegend=False,
                marker={"size": 14, "opacity": 0}, hovertemplate=f"Target {label}: " + "%{customdata:.0%}<extra></extra>",
            ))
            for position, y in enumerate(boundary):
                if y is not None:
                    figure.add_shape(type="line", xref="x", yref="y", x0=position - 0.42, x1=position + 0.42, y0=y, y1=y,
                                     line={"color": "#1f1f1f", "width": 3})
        figure.update_layout(
            template="plotly_white", barmode="stack", bargap=0.3, height=300, showlegend=False, hovermode="closest",
            margin={"l": 44, "r": 8, "t": 8, "b": 40}, font={"family": FONT_STACK, "size": 12},
            yaxis={"range": [0, 1], "tickformat": ".0%", "dtick": 0.25, "fixedrange": True},
            xaxis={"type": "category", "fixedrange": True, "tickvals": tickvals, "ticktext": ticktext, "tickangle": 0},
            hoverlabel={"font": {"family": FONT_STACK}},
        )
        charts.append({
            "id": f"mix-chart-{index}", "level": level, "scope": key,
            "title": "Company (all teams)" if level == "company" else key,
            "visits": sum(r["visits_total"] for r in rows if r),
            "period_starts": [p.start.isoformat() for p in periods],
            "figure": figure.to_plotly_json(),
        })
    return charts


def _script_json(value: object) -> str:
    """JSON that is safe inside a ``<script type="application/json">`` (no ``</script>`` can end it)."""
    text = json.dumps(value, ensure_ascii=False, default=str, allow_nan=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _percent(value: float | None, digits: int = 0) -> str:
    return "—" if value is None else f"{value * 100:.{digits}f}%"


_ENV = Environment(loader=PackageLoader("visitmix", "templates"), autoescape=select_autoescape(["html"]))
_ENV.filters["percent"] = _percent


def render(page: MixPage, dq_report_href: str | None, later_failed_href: str | None = None) -> str:
    """The page's HTML: one file, plotly.js inlined."""
    from plotly.offline import get_plotlyjs

    charts = {c["id"]: c["figure"] for c in page.charts}
    data = {
        "grain": page.grain, "periods": [p.start.isoformat() for p in page.periods],
        "charts": [{k: v for k, v in c.items() if k != "figure"} for c in page.charts],
    }
    return _ENV.get_template("visit_mix.html").render(
        page=page, visit_types=VISIT_TYPES, font_stack=FONT_STACK, dq_report_href=dq_report_href,
        later_failed_href=later_failed_href, figures_json=_script_json(charts), data_json=_script_json(data),
        plotly_js=get_plotlyjs(), generated_at=datetime.now(ZoneInfo(page.timezone)),
    )


def _href(target: Path, page_file: Path) -> str | None:
    """A relative link from the page to `target`, or None when the file is not there."""
    if not target.is_file():
        return None
    return Path(os.path.relpath(target.resolve(), page_file.resolve().parent)).as_posix()


def write_mix_report(
    warehouse: Path, out: Path, reports_dir: Path, timezone: str | None = None,
    grain: str = "month", periods: int | None = None, reps: int = DEFAULT_REPS,
) -> Path:
    """Read the marts and write the page to `out` (its folder created if needed); returns `out`.

    `reports_dir` is where the runs' data-quality reports are (``<run_id>.html``, see
    :func:`visitmix.report.write_html`). Raises VisitmixError with one line for every failure.
    """
    page = load_mix(warehouse, grain, periods, reps, timezone)
    dq_href = _href(reports_dir / f"{page.run['run_id']}.html", out) if page.run else None
    failed_href = _href(reports_dir / f"{page.later_failed_run['run_id']}.html", out) if page.later_failed_run else None
    html = render(page, dq_href, failed_href)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(html, encoding="utf-8")
    except OSError as exc:
        raise VisitmixError(f"cannot write the report to '{out}': {exc.strerror or exc}") from None
    return out
