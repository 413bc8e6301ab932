"""`visitmix report`: the visit-mix page shows the marts' numbers, opens offline, keeps Thai text."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from datetime import date, timedelta
from html.parser import HTMLParser
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from typer.testing import CliRunner

from flows.visit_mix import visit_mix_flow
from scenario import make_scenario, query, warehouse_of
from visitmix.cli import app
from visitmix.duck import connect
from visitmix.errors import ValidationFailed
from visitmix.mix_report import VISIT_TYPES, write_mix_report

LABELS = {label: visit_type for visit_type, label, _colour in VISIT_TYPES}


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory, prefect_harness) -> Path:  # noqa: ANN001
    """The bundled sample's warehouse, built once in a folder of its own (the sample writes under the cwd)."""
    root = tmp_path_factory.mktemp("mix-sample")
    before = Path.cwd()
    os.chdir(root)
    try:
        visit_mix_flow(None)
    finally:
        os.chdir(before)
    return root


@pytest.fixture(scope="module")
def page(sample: Path) -> tuple[Path, str]:
    """`visitmix report` with no option, run in the sample's folder: the page at its default place."""
    before = Path.cwd()
    os.chdir(sample)
    try:
        result = CliRunner().invoke(app, ["report"])
    finally:
        os.chdir(before)
    assert result.exit_code == 0, result.output
    path = Path(result.output.strip())
    return path, path.read_text(encoding="utf-8")


def _json(html: str, element_id: str) -> object:
    match = re.search(rf'<script type="application/json" id="{element_id}">(.*?)</script>', html, re.S)
    assert match, element_id
    return json.loads(match.group(1))


def _text(html: str) -> str:
    """The markup with every run of white space as one space (the template's line breaks do not matter)."""
    return " ".join(html.split())


def _warehouse(sample: Path) -> Path:
    return sample / "warehouse" / "visitmix.duckdb"


def test_default_output_sits_with_the_runs_data_quality_reports_and_links_to_its_run(sample: Path, page: tuple[Path, str]):
    path, html = page
    reports = sample / "warehouse" / "reports" / "visitmix"
    assert path == reports / "visit-mix.html"
    ((run_id, finished_at),) = query(_warehouse(sample), "select run_id, finished_at from audit.pipeline_run where status = 'succeeded'")
    assert f'<a href="{run_id}.html">Data-quality report of this run</a>' in html
    assert (path.parent / f"{run_id}.html").is_file()
    local = finished_at.astimezone(ZoneInfo("Asia/Bangkok"))  # the sample's [classification].timezone
    assert f"finished {local:%Y-%m-%d %H:%M} (Asia/Bangkok, UTC+07:00)" in _text(html)


def test_sections_and_labels(page: tuple[Path, str]):
    _path, html = page
    for section in ('<section id="run"', '<section id="mix">', '<section id="reps">', '<section id="kpis">'):
        assert section in html
    for heading in ("Visit mix against the target", "Reps furthest from their target — May 2026", "KPIs"):
        assert heading in html
    for label in LABELS:
        assert label in html
    assert '<meta charset="utf-8">' in html and '"Noto Sans Thai"' in html and "Tahoma" in html


class _Links(HTMLParser):
    """Every URL the browser would load or follow: tag attributes, CSS in <style> and style="…"
    (script bodies are not markup, so the inlined plotly.js is not looked into)."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.tags: list[str] = []
        self._in_style = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        for name, value in attrs:
            if name in ("src", "href", "action", "poster", "data", "srcset", "xlink:href") and value:
                self.urls.append(value)
            if name == "style" and value:
                self.urls += re.findall(r"url\(\s*['\"]?([^)'\"]+)", value)
        self._in_style = tag == "style"

    def handle_endtag(self, tag: str) -> None:
        self._in_style = False

    def handle_data(self, data: str) -> None:
        if self._in_style:
            self.urls += re.findall(r"url\(\s*['\"]?([^)'\"]+)", data) + re.findall(r"@import\s+['\"]([^'\"]+)", data)


def test_the_page_loads_nothing_from_the_network(page: tuple[Path, str]):
    _path, html = page
    links = _Links()
    links.feed(html)
    assert "script" in links.tags and "link" not in links.tags and "img" not in links.tags and "iframe" not in links.tags
    assert [u for u in links.urls if re.match(r"\s*(https?:)?//", u, re.I)] == []
    scripts = re.findall(r"<script\b([^>]*)>", html)
    assert scripts and not [s for s in scripts if "src=" in s]  # plotly.js is inlined, not fetched
    assert "Plotly.newPlot" in html and len(html) > 3_000_000  # the bundle itself is in the file


def test_chart_numbers_are_the_marts_numbers(sample: Path, page: tuple[Path, str]):
    _path, html = page
    wh = _warehouse(sample)
    # the last 6 complete months: complete = ended on or before the latest visit that took place
    (as_of,) = query(wh, "select max(visit_date) from marts.fct_visit where status <> 'planned'")[0]
    last = as_of.replace(day=1) if (as_of + timedelta(days=1)).day == 1 else (as_of.replace(day=1) - timedelta(days=1)).replace(day=1)
    months = [last]
    while len(months) < 6:
        months.insert(0, (months[0] - timedelta(days=1)).replace(day=1))
    data = _json(html, "mix-data")
    figures = _json(html, "mix-figures")
    assert data["grain"] == "month" and data["periods"] == [m.isoformat() for m in months]
    teams = [r[0] for r in query(wh, "select distinct level_key from marts.visit_mix where level = 'team' order by 1")]
    assert [(c["level"], c["scope"]) for c in data["charts"]] == [("company", "company")] + [("team", t) for t in teams]
    compared = 0
    for chart in data["charts"]:
        expected = {
            r[0].isoformat(): r[1:]
            for r in query(wh, f"""select period_start, new_prospect_share, hot_prospect_share, existing_customer_share,
                                          target_new_prospect_share, target_hot_prospect_share, visits_total
                                   from marts.visit_mix where period_grain = 'month' and level = '{chart['level']}'
                                   and level_key = '{chart['scope']}'""")
        }
        traces = figures[chart["id"]]["data"]
        bars = {LABELS[t["name"]]: t for t in traces if t["type"] == "bar"}
        targets = {t["name"]: t["customdata"] for t in traces if t["type"] == "scatter"}
        for i, start in enumerate(chart["period_starts"]):
            new, hot, existing, target_new, target_hot, total = expected.get(start, (None,) * 6)
            assert (bars["new_prospect"]["y"][i], bars["hot_prospect"]["y"][i], bars["existing_customer"]["y"][i]) == (new, hot, existing)
            assert bars["new_prospect"]["customdata"][i][1] == total
            assert (targets["Target: New Prospect Visit"][i], targets["Target: Hot Prospect Visit"][i]) == (target_new, target_hot)
            compared += new is not None
        assert chart["visits"] == sum(v[5] for k, v in expected.items() if k in chart["period_starts"])
    assert compared >= 20  # 4 charts x 6 months, nearly all with visits


def test_reps_furthest_from_target_are_the_marts_rows(sample: Path, page: tuple[Path, str]):
    _path, html = page
    expected = query(_warehouse(sample), """
        select m.level_key, d.rep_name, m.mix_distance
        from marts.visit_mix as m join marts.dim_rep as d on d.rep_id = m.level_key
        where m.period_grain = 'month' and m.period_start = date '2026-05-01' and m.level = 'rep' and m.visits_total > 0
        order by m.mix_distance desc, m.visits_total desc, m.level_key limit 10""")
    section = html[html.index('<section id="reps">'):html.index('<section id="kpis">')]
    assert re.findall(r'data-rep-id="([^"]+)"', section) == [r[0] for r in expected]
    assert re.findall(r"<strong>(\d+)%</strong>", section) == [f"{r[2] * 100:.0f}" for r in expected]
    assert "สมชาย ใจดี" in section  # a rep's Thai name, as in marts.dim_rep


def test_kpis_shown_are_the_published_ones(sample: Path, page: tuple[Path, str]):
    _path, html = page
    wh = _warehouse(sample)
    cards = dict(re.findall(r'data-kpi="([a-z_]+)">\s*<div class="label">[^<]*</div>\s*<div class="value">([^<]*)</div>', html))
    assert list(cards) == ["existing_customer_coverage_share", "new_to_hot_progression_share", "hot_to_won_share",
                           "plan_adherence_share", "reported_type_mismatch_share"]
    company = "from marts.visit_kpi where period_grain = 'month' and level = 'company'"
    # no window: the latest complete month (May 2026)
    (plan,) = query(wh, f"select plan_adherence_share {company} and period_start = date '2026-05-01'")[0]
    assert cards["plan_adherence_share"] == f"{plan * 100:.0f}%"
    # with a window: the latest complete month whose window has passed, never one still open
    ((start, share),) = query(wh, f"select period_start, new_to_hot_progression_share {company} and is_progression_window_complete "
                                  "and period_start <= date '2026-05-01' order by period_start desc limit 1")
    assert cards["new_to_hot_progression_share"] == f"{share * 100:.0f}%"
    assert query(wh, f"select count(*) {company} and period_start > date '{start}' and period_start <= date '2026-05-01' "
                     "and new_to_hot_progression_share is not null") == [(0,)]
    label = f"{['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'][start.month - 1]} {start.year}"
    assert f'<div class="value">{share * 100:.0f}%</div> <p>{label} ·' in _text(html)
    # the sample's accounts have no owner: coverage per team is a dash, and the page says why
    assert query(wh, "select count(*) from marts.visit_kpi where level = 'team' and existing_customer_coverage_share is not null") == [(0,)]
    assert "without account owners it is known for the company only" in _text(html)


def test_only_the_kpis_the_warehouse_has_are_shown(sample: Path, tmp_path: Path):
    older = tmp_path / "older.duckdb"
    shutil.copyfile(_warehouse(sample), older)
    con = connect(older)
    con.execute("alter table marts.visit_kpi drop column hot_to_won_share")
    con.close()
    html = write_mix_report(older, tmp_path / "a.html", tmp_path).read_text(encoding="utf-8")
    assert 'data-kpi="plan_adherence_share"' in html and "Hot → won" not in html
    con = connect(older)
    con.execute("drop table marts.visit_kpi")
    con.close()
    html = write_mix_report(older, tmp_path / "b.html", tmp_path).read_text(encoding="utf-8")
    assert "This warehouse has no marts.visit_kpi." in html and "data-kpi=" not in html
    assert "Its data-quality report is not in the reports folder." in html  # no report of that run next to it


CANARY = "canary.person@example.com"


def test_thai_names_round_trip_and_cell_values_stay_out(tmp_path: Path, prefect_harness):  # noqa: ANN001
    team, rep = "ทีมขายกรุงเทพฯ", "สมหญิง รักษ์งาน"
    visits = [["V1", "R1", "A1", "2025-01-05 10:00", "Held", CANARY, ""], ["V2", "R1", "A2", "2025-01-12 10:00", "Held", "", CANARY],
              ["V3", "R1", "A1", "2025-01-20 10:00", "Held", "", ""], ["V4", "R1", "A3", "2025-02-03 10:00", "Held", "", ""],
              ["V9", "R1", "A1", CANARY, "Held", "", CANARY]]  # quarantined: its raw row stays in audit.quarantine
    config = make_scenario(tmp_path, visits=visits, reps=[["R1", rep, team, "ภาคกลาง"]],
                           extra_config="[validation]\nmax_quarantine_share = 0.3\n")
    visit_mix_flow(str(config))
    result = CliRunner().invoke(app, ["report", "--config", str(config)])
    assert result.exit_code == 0, result.output
    raw = (tmp_path / "wh" / "reports" / "visitmix" / "visit-mix.html").read_bytes()
    html = raw.decode("utf-8")  # strict: a bad byte fails here
    assert f"<figcaption>{team} <small>" in html and f"<td>{rep} <small>R1</small></td>" in html
    assert [(c["level"], c["scope"]) for c in _json(html, "mix-data")["charts"]] == [("company", "company"), ("team", team)]
    assert team.encode("utf-8") in raw
    # names are shown (the page is for sales leaders), labels, notes and quarantined rows are not
    assert CANARY not in html
    # January is the only complete month (the data stops on 3 February)
    assert "Reps furthest from their target — Jan 2025" in html and "the last 1 complete month." in html
    # no complete quarter yet: the current one, flagged
    out = write_mix_report(warehouse_of(config), tmp_path / "q.html", tmp_path / "wh" / "reports" / "visitmix", "Asia/Bangkok", "quarter")
    quarter = out.read_text(encoding="utf-8")
    assert "No quarter is complete yet: 2025 Q1 so far, with visits up to 2025-02-03." in quarter
    assert _json(quarter, "mix-data")["periods"] == ["2025-01-01"]
    assert '<a href="wh/reports/visitmix/' in quarter  # the link is relative to where the page is
    # a later failed run published nothing: the page still shows the marts' run, and says so
    ((published,),) = query(warehouse_of(config), "select run_id from audit.pipeline_run")
    make_scenario(tmp_path, visits=visits[:1], reps=[["R1", rep, team, "ภาคกลาง"]])  # a half-empty export
    with pytest.raises(ValidationFailed):
        visit_mix_flow(str(config))
    ((failed,),) = query(warehouse_of(config), "select run_id from audit.pipeline_run where status = 'failed'")
    result = CliRunner().invoke(app, ["report", "--config", str(config)])
    assert result.exit_code == 0, result.output
    text = _text((tmp_path / "wh" / "reports" / "visitmix" / "visit-mix.html").read_text(encoding="utf-8"))
    assert f"From run <code>{published}</code>" in text
    assert f"A later run, <code>{failed}</code>, failed" in text and f'<a href="{failed}.html">Its data-quality report</a>' in text


def _one_line_error(args: list[str], message: str) -> None:
    result = CliRunner().invoke(app, ["report", *args])
    assert result.exit_code == 1, result.output
    assert result.output.startswith("visitmix: error: ") and result.output.count("\n") == 1, result.output
    assert message in result.output, result.output
    assert "Traceback" not in result.output


def test_errors_are_one_line(tmp_path: Path, sample: Path):
    _one_line_error(["--warehouse", str(tmp_path / "none.duckdb")], f"warehouse '{tmp_path / 'none.duckdb'}' does not exist: run `visitmix run` first")
    connect(tmp_path / "empty.duckdb").close()  # a warehouse file before any run published
    _one_line_error(["--warehouse", str(tmp_path / "empty.duckdb")], "has no published marts yet (marts.visit_mix): run `visitmix run` first")
    (tmp_path / "a-file").write_text("x")
    out = tmp_path / "a-file" / "visit-mix.html"  # its folder cannot be made (root may write anywhere else)
    _one_line_error(["--warehouse", str(_warehouse(sample)), "--out", str(out)], f"cannot write the report to '{out}'")
    _one_line_error(["--config", str(tmp_path / "none.toml")], "does not exist")
    # marts without visitmix's audit trail: another tool's file
    foreign = tmp_path / "foreign.duckdb"
    con = connect(foreign)
    con.execute(f"attach '{_warehouse(sample)}' as src (read_only)")
    con.execute("create schema marts")
    for table in ("visit_mix", "fct_visit", "dim_rep"):
        con.execute(f"create table marts.{table} as select * from src.marts.{table}")
    con.close()
    _one_line_error(["--warehouse", str(foreign)], f"'{foreign}' is a DuckDB database visitmix did not create (no audit.pipeline_run of its own)")
    # held read-write by another process (a BI tool connected read-write): named, with its pid
    holder = subprocess.Popen([sys.executable, "-c", "import duckdb, sys; c = duckdb.connect(sys.argv[1]); print('ok', flush=True); "
                               "sys.stdin.readline()", str(foreign)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "ok"  # type: ignore[union-attr]
        _one_line_error(["--warehouse", str(foreign)], f"is held read-write by process {holder.pid}")
    finally:
        holder.communicate("\n", timeout=30)
    # --warehouse alone: the zone the run recorded (as with its config), and the reports folder next to the warehouse
    result = CliRunner().invoke(app, ["report", "--warehouse", str(_warehouse(sample)), "--out", str(tmp_path / "p.html"), "--grain", "week", "--periods", "3"])
    assert result.exit_code == 0, result.output
    html = (tmp_path / "p.html").read_text(encoding="utf-8")
    assert len(_json(html, "mix-data")["periods"]) == 3 and "(Asia/Bangkok)" in html and "(UTC)" not in html
    assert re.search(r'<a href="[./]*[^"]*/warehouse/reports/visitmix/\d{8}T\d{6}Z-[0-9a-f]+\.html">', html)


def test_a_week_without_visits_is_a_gap_not_left_out(tmp_path: Path, prefect_harness):  # noqa: ANN001
    """Weeks of 6, 13 and 27 January 2025 have visits, the week of 20 January none: the last four
    complete weeks are all four, the empty one shown without bars (QA pass: it was left out)."""
    starts = ["2025-01-06 10:00", "2025-01-13 10:00", "2025-01-27 10:00", "2025-02-03 10:00"]
    config = make_scenario(tmp_path, visits=[[f"V{i}", "R1", "A1", s, "", "", ""] for i, s in enumerate(starts)])
    visit_mix_flow(str(config))
    result = CliRunner().invoke(app, ["report", "--config", str(config), "--grain", "week", "--periods", "4"])
    assert result.exit_code == 0, result.output
    html = Path(result.output.strip()).read_text(encoding="utf-8")
    data, figures = _json(html, "mix-data"), _json(html, "mix-figures")
    assert data["periods"] == ["2025-01-06", "2025-01-13", "2025-01-20", "2025-01-27"]
    company = next(c for c in data["charts"] if c["level"] == "company")
    bars = [t for t in figures[company["id"]]["data"] if t["type"] == "bar"]
    assert [sum(t["y"][i] or 0 for t in bars) for i in range(4)] == [1.0, 1.0, 0, 1.0]
    assert all(t["y"][2] is None for t in bars)


def test_a_warehouse_with_only_failed_runs_says_so(tmp_path: Path, prefect_harness):  # noqa: ANN001
    config = make_scenario(tmp_path, visits=[["V1", "R1", "A1", "not a date", "", "", ""]])
    with pytest.raises(ValidationFailed):
        visit_mix_flow(str(config))
    (run_id,) = query(warehouse_of(config), "select run_id from audit.pipeline_run")[0]
    result = CliRunner().invoke(app, ["report", "--config", str(config)])
    assert result.exit_code == 1
    assert result.output.strip() == (f"visitmix: error: warehouse '{warehouse_of(config)}' has no published marts: no run has "
                                     f"succeeded yet (the last one, {run_id}, failed; `visitmix dq-report` says why)")
