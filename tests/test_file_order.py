"""Files whose names tell another order than their paths (visitmix.file_order) and the run's warning."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import write_csv
from flows.visit_mix import visit_mix_flow
from scenario import VISIT_HEADER, make_scenario, query, warehouse_of
from visitmix.file_order import misordered


@pytest.mark.parametrize(("labels", "pair"), [
    (["exports/visits_28-02-2025.csv", "exports/visits_05-03-2025.csv"], ("exports/visits_05-03-2025.csv", "exports/visits_28-02-2025.csv")),
    (["v_2025-3-9.csv", "v_2025-3-10.csv"], ("v_2025-3-10.csv", "v_2025-3-9.csv")),  # unpadded, year first
    (["2025-3-9/visits.csv", "2025-3-10/visits.csv"], ("2025-3-10/visits.csv", "2025-3-9/visits.csv")),  # in folder names
    (["Visits (10).csv", "Visits (2).csv"], ("Visits (10).csv", "Visits (2).csv")),  # Windows copies
    (["Visits.csv", "Visits (2).csv"], ("Visits (2).csv", "Visits.csv")),  # the original sorts after its copies
    (["a_12-31-2024.csv", "b_01-15-2025.csv"], None),  # month first where day first cannot read
    (["2025-01/visits.csv", "2025-02/visits.csv", "2025-10/visits.csv"], None),  # zero-padded: in order
    (["visits.csv", "visits_2025-02.csv"], None),  # one name says nothing
])
def test_names_that_tell_another_order_than_the_paths(labels: list[str], pair: tuple[str, str] | None):
    assert misordered(labels) == pair


@pytest.mark.usefixtures("prefect_harness")
def test_a_run_warns_when_an_older_exports_row_may_have_won(tmp_path: Path):
    """Without updated_at, visit V1 in two exports named by day-first dates: the 28 February export
    sorts after the 5 March one, so its Scheduled row wins over the later Done (the documented rule);
    the run says which files and why."""
    config = make_scenario(tmp_path, visits=[])
    (tmp_path / "visits.csv").unlink()
    config.write_text(config.read_text(encoding="utf-8").replace('path = "visits.csv"', 'path = "exports/*.csv"'), encoding="utf-8")
    (tmp_path / "exports").mkdir()
    write_csv(tmp_path / "exports" / "visits_28-02-2025.csv", VISIT_HEADER, [["V1", "R1", "A1", "2025-03-04 09:00", "Scheduled", "", ""],
                                                                             ["V2", "R1", "A1", "2025-02-20 09:00", "Done", "", ""]])
    write_csv(tmp_path / "exports" / "visits_05-03-2025.csv", VISIT_HEADER, [["V1", "R1", "A1", "2025-03-04 09:00", "Done", "", ""]])
    summary = visit_mix_flow(str(config))
    warning = ("visits: rows replaced by the version of the file whose path sorts last (no updated_at), but the files' names "
               "tell another order: 'exports/visits_05-03-2025.csv' sorts before 'exports/visits_28-02-2025.csv' though its name "
               "is later, so an older export's row may have won: name the files year first (2025-02-28) or with zero-padded "
               "numbers, or map updated_at (1 row)")
    assert warning in summary.warnings
    assert query(warehouse_of(config), "select visit_id, status from marts.fct_visit order by 1") == [("V1", "planned"), ("V2", "completed")]
