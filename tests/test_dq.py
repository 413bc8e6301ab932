"""The generic GX suite runner: outcomes, quarantine flags, engine errors, no values in samples."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from visitmix import dq


def frame(**columns) -> pl.DataFrame:
    n = len(next(iter(columns.values())))
    return pl.DataFrame(columns).with_columns(
        source_file=pl.lit("f.csv"), source_row_number=pl.int_range(1, n + 1, dtype=pl.Int64)
    )


@pytest.fixture
def suites(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr(dq, "EXPECTATIONS_DIR", tmp_path)
    return tmp_path


def write_suite(folder: Path, name: str, expectations: list[dict]) -> None:
    (folder / f"{name}.json").write_text(json.dumps({"name": name, "expectations": expectations}))


def test_outcomes_flags_and_reasons(suites: Path):
    write_suite(
        suites,
        "t",
        [
            {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "id"}, "meta": {"severity": "warn", "quarantine": True, "reason": "id is missing"}},
            {"type": "expect_column_values_to_be_in_set", "kwargs": {"column": "kind", "value_set": ["a", "b"]},
             "meta": {"severity": "warn", "quarantine": True, "reason": "kind '{value}' unknown"}},
            {"type": "expect_table_row_count_to_be_between", "kwargs": {"min_value": 10}, "meta": {"severity": "error"}},
        ],
    )
    result = dq.validate_frame(frame(id=["x", None, "z", None], kind=["a", "c", "a", "a"], name=["Ann", "Bob", "Cy", "Di"]), "t")
    summary = [(o.expectation, o.column_name, o.severity, o.outcome, o.element_count, o.unexpected_count, o.unexpected_sample) for o in result.outcomes]
    assert summary == [
        ("expect_column_values_to_not_be_null", "id", "warn", "failed", 4, 2, '["f.csv:2", "f.csv:4"]'),
        ("expect_column_values_to_be_in_set", "kind", "warn", "failed", 4, 1, '["f.csv:2"]'),
        ("expect_table_row_count_to_be_between", None, "error", "failed", None, None, None),
    ]
    assert [o.expectation for o in result.errors] == ["expect_table_row_count_to_be_between"]
    assert result.flags.sort("source_row_number", "check_order").rows() == [
        ("f.csv", 2, 0, "id is missing"),
        ("f.csv", 2, 1, "kind 'c' unknown"),
        ("f.csv", 4, 0, "id is missing"),
    ]


def test_engine_error_is_error_not_failed(suites: Path):
    # GX cannot compare text with a number: the check could not be computed at all.
    write_suite(suites, "t", [{"type": "expect_column_values_to_be_between", "kwargs": {"column": "amount", "min_value": 0}, "meta": {"severity": "error"}}])
    result = dq.validate_frame(frame(amount=["10", "x"]), "t")
    (outcome,) = result.outcomes
    assert outcome.outcome == "error"
    assert outcome.details
    assert result.errors == [outcome]
    # even a warn-level check that GX cannot compute stops the run: its bad rows are unknown
    write_suite(suites, "t", [{"type": "expect_column_values_to_be_between", "kwargs": {"column": "amount", "min_value": 0}, "meta": {"severity": "warn", "quarantine": True}}])
    result = dq.validate_frame(frame(amount=["10", "x"]), "t")
    assert [o.outcome for o in result.errors] == ["error"]


def test_shipped_suites_are_valid_gx_suites():
    import great_expectations as gx

    for name in ("visits", "accounts", "deals", "reps"):
        definition = dq.load_suite_definition(name)
        suite = gx.ExpectationSuite(name=definition["name"], expectations=definition["expectations"])
        assert len(suite.expectations) == len(definition["expectations"])
        for spec in definition["expectations"]:
            assert spec["meta"]["severity"] in ("warn", "error")


def test_mart_suites_catch_broken_marts():
    from datetime import date

    good_fct = pl.DataFrame(
        {
            "visit_id": ["V1", "V2"], "account_id": ["A", "A"], "visit_date": [date(2025, 1, 1), date(2025, 1, 2)],
            "status": ["completed", "planned"], "visit_type": ["new_prospect", None],
            "prior_visit_count": [0, 1], "days_since_prior_visit": [None, 1],
        }
    )
    assert [o.outcome for o in dq.validate_frame(good_fct, "fct_visit", index_columns=("visit_id",)).outcomes] == ["passed"] * 9
    bad_fct = good_fct.with_columns(visit_id=pl.lit("V1"), visit_type=pl.lit(None, dtype=pl.String), prior_visit_count=pl.lit(-1))
    result = dq.validate_frame(bad_fct, "fct_visit", index_columns=("visit_id",))
    failed = {(o.expectation, o.column_name) for o in result.outcomes if o.outcome == "failed"}
    assert failed == {
        ("expect_column_values_to_be_unique", "visit_id"),
        ("expect_column_values_to_not_be_null", "visit_type"),  # a completed visit without a type
        ("expect_column_values_to_be_between", "prior_visit_count"),
    }
    assert {o.severity for o in result.errors} == {"error"}

    mix = pl.DataFrame(
        {
            "month": [date(2025, 1, 1), date(2025, 1, 1)], "rep_id": ["R1", "R1"], "visits_total": [2, 0],
            "new_prospect_share": [0.5, 1.5], "hot_prospect_share": [0.5, 0.0], "existing_customer_share": [0.0, 0.0],
            "mix_distance": [0.3, 1.2],
        }
    )
    result = dq.validate_frame(mix, "visit_mix_monthly", index_columns=("month", "rep_id"))
    assert {(o.expectation, o.column_name) for o in result.errors} == {
        ("expect_compound_columns_to_be_unique", None),
        ("expect_column_values_to_be_between", "visits_total"),
        ("expect_column_values_to_be_between", "new_prospect_share"),
        ("expect_column_values_to_be_between", "mix_distance"),
    }
