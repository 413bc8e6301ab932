"""What each check checks, in plain language, whatever its outcome: the one place that says it.

Two kinds of check reach ``audit.dq_result``:

* the expectations of the GX suites in ``expectations/*.json``: each carries its description in
  its own ``meta.description``, beside its definition;
* the checks visitmix computes itself (:data:`OWN_CHECKS`), keyed by the name they are recorded
  under; ``{suite}`` and ``{column}`` are filled from the recorded outcome.

A description says what is checked; ``details`` says what happened in a run. Neither ever holds a
cell value. A run stores each check's description in ``audit.dq_result.description``; for runs
recorded before that column existed, :func:`describe` finds it again from the suite files.
"""

from __future__ import annotations

from functools import lru_cache

from visitmix.dq import load_suite_definition

# Checks visitmix computes itself (not through GX), by the expectation name they are recorded under.
OWN_CHECKS: dict[str, str] = {
    "newest_version_per_key": (
        "Rows of the {suite} input whose {column} another row repeats: only the newest version is kept "
        "(the later updated_at, else the later file); a count, never a failure"
    ),
    "versions_name_another_account": (
        "Rows of the {suite} input that a newer version of the same key replaced name the same {column} (visits: and "
        "deal_id) as that newest version (another account means the row was moved in the CRM, or the key is not unique across "
        "files, such as a per-file row number, and unrelated rows replaced each other)"
    ),
    "file_names_in_path_order": (
        "Where rows of the {suite} input were replaced by the version of the file whose path sorts last (no "
        "updated_at), the files' names (dates, copy numbers) tell the same order as their paths"
    ),
    "repeated_header_rows_skipped": (
        "Rows of the {suite} input below the header that repeat it (exports concatenated into one file): not data, "
        "skipped; a count, never a failure"
    ),
    "date_order_from_other_columns": (
        "Dates of {column} in the {suite} input that decide no day/month order themselves, read in the order the "
        "source's other date columns are written in; a count, never a failure"
    ),
    "gregorian_years_unread": (
        "With calendar = \"buddhist\", no value of {column} in the {suite} input is written with a Gregorian year "
        "(such a year read as Buddhist era is 543 years earlier: no date)"
    ),
    "rows_before_watermark": (
        "Incremental {suite} source: rows read whose updated_at is before the watermark of the last published "
        "run, left out as extracted then (a row new since, with an older updated_at, breaks the cursor: every "
        "change must set updated_at; --full-refresh reads it); a count, never a failure"
    ),
    "new_rows_before_watermark": (
        "Incremental {suite} source: no row left out as older than the watermark has a key that no earlier run kept "
        "(such a row is new although its updated_at is old; it stays out of the marts until --full-refresh)"
    ),
    "held_from_earlier_runs": (
        "Incremental {suite} source: rows kept from earlier runs whose newest version still fails a row check "
        "(quarantined in the run that read it), so still held back from the marts; a count, never a failure"
    ),
    "title_rows_skipped": (
        "Rows above the header of a {suite} file that were a report's title block (its name, date range, "
        "filters), found and skipped because sources.<name>.skip_rows is not set; a count, never a failure"
    ),
    "lookup_key_unique": (
        "Each key of the {suite} input matches at most one distinct {column} in its lookup file "
        "(where several match, the smallest is taken)"
    ),
    "single_calendar_era": "The years in {column} are written in one calendar era, Buddhist (BE) or Gregorian, not a mix of both",
    "buddhist_era_years_unread": (
        "No value of {column} in the {suite} input has a Buddhist-era year (above 2400) while the source's calendar is "
        "gregorian, which cannot read it (calendar = \"buddhist\" or \"auto\" can)"
    ),
    "target_team_exists": (
        "Every team with its own target in [target_mix.teams] is a team of the reps input (names compared exactly): "
        "a misspelled team's reps are measured against the company's target"
    ),
    "dst_adjusted_times": (
        "Times in {column} written without a zone that fall in a daylight-saving gap or repeated hour, "
        "adjusted by the documented rule; a count, never a failure"
    ),
    "epoch_timestamps": "Values of {column} written as epoch seconds or milliseconds, read as UTC instants; a count, never a failure",
    "optional_value_readable": (
        "Every value written in the optional column {column} can be read (one that cannot is left empty; the row stays)"
    ),
    "date_order_assumed": (
        "Some date in {column} shows whether dates are written day first or month first (a field above 12); "
        "when none does, day first is assumed"
    ),
    "visit_account_in_accounts": (
        "Every visit's account is listed in the accounts input (a visit with an unknown account is still "
        "classified, as a prospect visit)"
    ),
    "visit_rep_in_reps": "Every visit's rep is listed in the reps input (a visit with an unknown rep is still classified)",
    "deal_account_in_accounts": "Every deal's account is listed in the accounts input",
    "row_count_vs_previous_run": (
        "The visits input has at least validation.min_volume_share of the visit rows of the last successful "
        "run (fewer suggests a half-empty export, and stops the run)"
    ),
    "kept_ids_in_whole_read": (
        "An incremental source read whole because its settings (or the rules this release reads them with) changed "
        "still holds at least validation.min_volume_share of the keys the last run kept (a rep's versions by valid_from; "
        "fewer suggests delta files, whose earlier rows would be dropped, and stops the run)"
    ),
    "kept_ids_dropped": (
        "Every key the last run kept is still in an incremental source read whole (a missing one leaves the marts: "
        "deleted in the CRM, or an export of recent rows only)"
    ),
    "gx_sample_agreement": (
        "Great Expectations itself, run on a sample of the {suite} rows, agrees check by check with the "
        "exact counts visitmix computed (a disagreement stops the run)"
    ),
}



@lru_cache(maxsize=None)
def _suite(name: str) -> tuple[dict, ...]:
    try:
        return tuple(load_suite_definition(name)["expectations"])
    except FileNotFoundError:
        return ()


def suite_description(spec: dict) -> str | None:
    """The ``meta.description`` of one expectation of a suite file (GX's JSON form), or None."""
    text = spec.get("meta", {}).get("description")
    return text.strip() if isinstance(text, str) and text.strip() else None


def describe(suite: str, expectation: str, column_name: str | None, recorded: str | None = None, details: str | None = None) -> str | None:
    """What the check checks, or None when no description exists (a test guards against that).

    `recorded`: the description stored with the outcome (it wins). Otherwise visitmix's own checks
    come from :data:`OWN_CHECKS`; a suite expectation from its suite file, matched by type and
    column — where several match (two bounds on one column), by their quarantine reason, which
    is what `details` holds for them.
    """
    if recorded:
        return recorded
    if expectation in OWN_CHECKS:
        return OWN_CHECKS[expectation].format(suite=suite, column=column_name or "the column")
    candidates = [s for s in _suite(suite) if s["type"] == expectation and s.get("kwargs", {}).get("column") == column_name]
    if len(candidates) > 1:
        by_reason = [s for s in candidates if details and s.get("meta", {}).get("reason") and details.startswith(s["meta"]["reason"])]
        candidates = by_reason or candidates[:1]
    return suite_description(candidates[0]) if candidates else None
