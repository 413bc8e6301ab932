"""The suite runner: compiled checks with exact counts, GX on a sample, and their agreement."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path

import polars as pl
import pytest

from visitmix import checks, dq


def frame(**columns) -> pl.DataFrame:
    n = len(next(iter(columns.values())))
    return pl.DataFrame(columns, strict=False).with_columns(
        source_file=pl.lit("f.csv"), source_row_number=pl.int_range(1, n + 1, dtype=pl.Int64)
    )


@pytest.fixture
def suites(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr(dq, "EXPECTATIONS_DIR", tmp_path)
    return tmp_path


def write_suite(folder: Path, name: str, expectations: list[dict]) -> None:
    (folder / f"{name}.json").write_text(json.dumps({"name": name, "expectations": expectations}))


def summary(result: dq.SuiteResult) -> list[tuple]:
    return [(o.expectation, o.column_name, o.severity, o.outcome, o.element_count, o.unexpected_count, o.unexpected_sample) for o in result.outcomes]


def test_outcomes_and_reasons(suites: Path):
    write_suite(
        suites,
        "t",
        [
            {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "id"}, "meta": {"severity": "warn", "quarantine": True, "reason": "id is missing"}},
            {"type": "expect_column_values_to_be_in_set", "kwargs": {"column": "kind", "value_set": ["a", "b"]},
             "meta": {"severity": "warn", "quarantine": True, "reason": "kind unknown"}},
            {"type": "expect_table_row_count_to_be_between", "kwargs": {"min_value": 10}, "meta": {"severity": "error"}},
        ],
    )
    result = dq.run_suite(frame(id=["x", None, "z", None], kind=["a", "c", "a", "a"], name=["Ann", "Bob", "Cy", "Di"]), "t")
    assert summary(result) == [
        ("expect_column_values_to_not_be_null", "id", "warn", "failed", 4, 2, '["f.csv:2", "f.csv:4"]'),
        ("expect_column_values_to_be_in_set", "kind", "warn", "failed", 4, 1, '["f.csv:2"]'),
        ("expect_table_row_count_to_be_between", None, "error", "failed", None, None, None),
    ]
    assert [o.expectation for o in result.errors] == ["expect_table_row_count_to_be_between"]
    assert result.reason.to_list() == [None, "id is missing", None, "id is missing"]  # the first check in suite order
    # GX itself, on the same rows, agrees with every compiled check
    (agreement,) = result.cross_check.resolve()
    assert (agreement.expectation, agreement.outcome, agreement.element_count, agreement.unexpected_count) == ("gx_sample_agreement", "passed", 4, 0)


def test_a_check_that_cannot_be_computed_is_an_error(suites: Path):
    # a text column compared with a number: neither GX nor Polars can compute it
    write_suite(suites, "t", [
        {"type": "expect_column_values_to_be_between", "kwargs": {"column": "amount", "min_value": 0}, "meta": {"severity": "warn", "quarantine": True}},
        {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "amount"}, "meta": {"severity": "warn"}},
    ])
    result = dq.run_suite(frame(amount=["10", "x"]), "t")
    assert [(o.outcome, o.unexpected_count) for o in result.outcomes] == [("error", None), ("passed", 0)]
    assert result.outcomes[0].details == "the check cannot be computed on this data (ComputeError); its bad rows are unknown" or "cannot be computed" in result.outcomes[0].details
    # even a warn-level check that cannot be computed stops the run: its bad rows are unknown
    assert [o.outcome for o in result.errors] == ["error"]
    assert result.cross_check.resolve()[0].outcome == "passed"


# Each expectation type and row condition the compiler supports, on values where GX's semantics
# are easy to get wrong: NULLs, a NULL in a row condition, strict bounds, dates against datetime
# bounds, zoned timestamps against a zoned parameter, repeated values and compound keys.
TRICKY = [
    {"type": "expect_column_values_to_be_in_set", "kwargs": {"column": "status", "value_set": ["completed", "planned"]}},
    {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "kind", "row_condition": 'status != "planned"', "condition_parser": "pandas"}},
    {"type": "expect_column_values_to_be_null", "kwargs": {"column": "note"}},
    {"type": "expect_column_values_to_be_between", "kwargs": {"column": "n", "min_value": 0, "max_value": 10, "strict_max": True}},
    {"type": "expect_column_values_to_be_between", "kwargs": {"column": "day", "min_value": "1970-01-01T00:00:00", "max_value": {"$PARAMETER": "max_date"}}},
    {"type": "expect_column_values_to_be_between", "kwargs": {"column": "at", "min_value": {"$PARAMETER": "min_at"}}},
    {"type": "expect_column_values_to_be_unique", "kwargs": {"column": "id"}},
    {"type": "expect_compound_columns_to_be_unique", "kwargs": {"column_list": ["id", "kind"]}},
    {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "n", "row_condition": "flag == True", "condition_parser": "pandas"}},
    {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "kind", "row_condition": "note.isnull()", "condition_parser": "pandas"}},
    {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "kind", "row_condition": "(flag == True) & (note.notnull())", "condition_parser": "pandas"}},
    {"type": "expect_table_row_count_to_be_between", "kwargs": {"min_value": 1, "max_value": 6}},
]


def test_compiled_semantics_equal_gx_on_tricky_values(suites: Path):
    write_suite(suites, "tricky", [{**e, "meta": {"severity": "warn"}} for e in TRICKY])
    data = frame(
        status=["completed", "planned", None, "other", "completed", "planned"],
        kind=[None, None, None, "b", "a", "a"],
        note=[None, "x", None, None, None, None],
        n=[0.0, 10.0, None, -1.0, 9.99, 5.0],
        day=[date(1969, 12, 31), date(1970, 1, 1), None, date(2031, 1, 1), date(2025, 5, 5), date(2025, 5, 5)],
        at=[datetime(2000, 1, 1, tzinfo=UTC), datetime(1999, 12, 31, 17, tzinfo=UTC), None, datetime(2025, 1, 1, tzinfo=UTC),
            datetime(1999, 12, 31, 16, 59, tzinfo=UTC), datetime(2024, 1, 1, tzinfo=UTC)],
        id=["A", "B", None, "B", "C", "C"],
        flag=[True, None, False, True, True, None],
    ).with_columns(pl.col("flag").cast(pl.Boolean))
    parameters = {"max_date": "2030-12-31T00:00:00", "min_at": "2000-01-01T00:00:00+07:00"}
    result = dq.run_suite(data, "tricky", parameters)
    assert [o.unexpected_count for o in result.outcomes] == [1, 2, 1, 2, 2, 1, 4, 2, 0, 2, 0, None]
    (agreement,) = result.cross_check.resolve()
    assert agreement.outcome == "passed", agreement.details


def test_a_compiled_check_that_drifts_from_gx_stops_the_run(suites: Path, monkeypatch: pytest.MonkeyPatch):
    write_suite(suites, "t", [{"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "id"}, "meta": {"severity": "warn"}}])
    real = checks.compile_suite

    def drifted(definition, schema, parameters=None):  # noqa: ANN001, ANN202 - a compiler bug, simulated
        compiled = real(definition, schema, parameters)
        return [c.__class__(**{**c.__dict__, "unexpected": pl.lit(False)}) for c in compiled]

    monkeypatch.setattr(checks, "compile_suite", drifted)
    result = dq.run_suite(frame(id=["x", None]), "t")
    (agreement,) = result.cross_check.resolve()
    assert agreement.outcome == "error"
    assert agreement.details == "Great Expectations and the compiled checks disagree on a sample of 2 rows: expect_column_values_to_not_be_null[id]"
    assert dq.stopping([agreement]) == [agreement]


def test_unsupported_expectations_are_refused_when_compiled(suites: Path):
    write_suite(suites, "t", [{"type": "expect_column_kl_divergence_to_be_less_than", "kwargs": {"column": "x"}, "meta": {}}])
    with pytest.raises(checks.SuiteError, match="expect_column_kl_divergence_to_be_less_than is not supported"):
        dq.run_suite(frame(x=[1]), "t")
    write_suite(suites, "t", [{"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "x", "row_condition": "x.str.len() > 2"}, "meta": {}}])
    with pytest.raises(checks.SuiteError, match="is not <column> <op> <literal>"):
        dq.run_suite(frame(x=[1]), "t")


def test_shipped_suites_are_valid_gx_suites_and_compile():
    import great_expectations as gx

    for name in ("visits", "accounts", "deals", "reps", "fct_visit", "visit_mix_monthly"):
        definition = dq.load_suite_definition(name)
        suite = gx.ExpectationSuite(name=definition["name"], expectations=definition["expectations"])
        assert len(suite.expectations) == len(definition["expectations"])
        for spec in definition["expectations"]:
            assert spec["meta"]["severity"] in ("warn", "error")
            assert "{value}" not in spec["meta"].get("reason", "")


def test_mart_suites_catch_broken_marts():
    good_fct = pl.DataFrame(
        {
            "visit_id": ["V1", "V2"], "account_id": ["A", "A"], "visit_date": [date(2025, 1, 1), date(2025, 1, 2)],
            "status": ["completed", "planned"], "visit_type": ["new_prospect", None],
            "prior_visit_count": [0, 1], "days_since_prior_visit": [None, 1],
        }
    )
    assert [o.outcome for o in dq.run_suite(good_fct, "fct_visit", index_columns=("visit_id",)).outcomes] == ["passed"] * 9
    bad_fct = good_fct.with_columns(visit_id=pl.lit("V1"), visit_type=pl.lit(None, dtype=pl.String), prior_visit_count=pl.lit(-1))
    result = dq.run_suite(bad_fct, "fct_visit", index_columns=("visit_id",))
    failed = {(o.expectation, o.column_name) for o in result.outcomes if o.outcome == "failed"}
    assert failed == {
        ("expect_column_values_to_be_unique", "visit_id"),
        ("expect_column_values_to_not_be_null", "visit_type"),  # a completed visit without a type
        ("expect_column_values_to_be_between", "prior_visit_count"),
    }
    assert {o.severity for o in result.errors} == {"error"}
    assert result.cross_check.resolve()[0].outcome == "passed"

    mix = pl.DataFrame(
        {
            "month": [date(2025, 1, 1), date(2025, 1, 1)], "rep_id": ["R1", "R1"], "visits_total": [2, 0],
            "new_prospect_share": [0.5, 1.5], "hot_prospect_share": [0.5, 0.0], "existing_customer_share": [0.0, 0.0],
            "mix_distance": [0.3, 1.2],
        }
    )
    result = dq.run_suite(mix, "visit_mix_monthly", index_columns=("month", "rep_id"))
    assert {(o.expectation, o.column_name) for o in result.errors} == {
        ("expect_compound_columns_to_be_unique", None),
        ("expect_column_values_to_be_between", "visits_total"),
        ("expect_column_values_to_be_between", "new_prospect_share"),
        ("expect_column_values_to_be_between", "mix_distance"),
    }
    assert result.cross_check.resolve()[0].outcome == "passed"
