"""Visits beyond memory: the in-memory steps, run over hash partitions spilled to Parquet.

A full visits source with more rows than ``[processing] max_visits_in_memory`` is processed in
``k = ceil(rows / max_visits_in_memory)`` partitions, so that memory follows that bound and not the
source's size:

0. the read sets aside each CSV, Excel or JSON file as Parquet in the spill folder once the rows
   read pass the bound (:func:`visitmix.sources.read_source`), so that one such file at a time is
   in memory, not the whole source;
1. each file is mapped on its own — a Parquet file with more rows than the bound in slices —
   (:func:`visitmix.canonicalise.map_files`, with the mapping and date orders decided once over all
   files) and its rows are split by a hash of ``visit_id``;
2. per ``visit_id`` partition: newest versions, the take-from-deal link, the visits suite and the
   quarantine decision; the accepted rows are split again by a hash of ``account_id``;
3. per ``account_id`` partition: the visits' references to accounts and reps, the classification
   and the ``fct_visit`` suite; the classified rows are written to Parquet, which the warehouse build
   reads straight into ``marts.fct_visit`` (DuckDB spills beside the build file).

Every copy of a ``visit_id`` is in one partition of step 2 and every visit of an account in one
partition of step 3, so newest versions, uniqueness and the classification (transforms/) see
exactly the rows the in-memory path gives them: the marts are the same. Counts and samples of the
checks are merged (:func:`visitmix.dq.merge_outcomes`); Great Expectations validates the sample of
the first partition. The spill folder is ``<warehouse>.spill-<run id>/`` beside the warehouse and is
removed when the run ends (a killed run's by the next run). One CSV, Excel or JSON file is still
read whole (into memory, as text) before it is set aside; a database result is held in memory.
"""

from __future__ import annotations

import math
import os
import shutil
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field, replace
from pathlib import Path

import polars as pl

from transforms import classify, references, versions
from transforms.canonical import empty_canonical
from transforms.schema import CHECKED_ONLY, ENTITIES, SOURCE_FILE, SOURCE_ROW
from visitmix import canonicalise
from visitmix.config import SourceConfig
from visitmix.dq import CrossCheck, ExpectationOutcome, load_suite_definition, merge_outcomes, run_suite
from visitmix.errors import WarehouseError
from visitmix.prepare import MAX_LISTED_STATUSES, MOVED_BETWEEN, PreparedSource, file_order_outcome, held_rows, newest_outcomes, run_checks, with_vocabulary
from visitmix.sources import DATA_ERRORS, RawPart, RawSource

_SEED = 0x5A11
Step = Callable[[str], AbstractContextManager]


def spill_folder(live: Path, run_id: str) -> Path:
    """Where a run spills its partitions: beside the warehouse file, named for the run (a killed
    run's is removed by the next run, with its other leftovers: visitmix.runlock)."""
    return live.parent / f"{live.name}.spill-{run_id}"


def spill_write(frame: pl.DataFrame, path: Path, spill: Path) -> None:
    """Write `frame` to `path` (Parquet, LZ4) in the spill folder `spill`. Raises WarehouseError
    naming the folder and its free space when the disk refuses (full, read-only)."""
    try:
        frame.write_parquet(path, compression="lz4", statistics=False)
    except (OSError, pl.exceptions.PolarsError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else type(exc).__name__
        free = shutil.disk_usage(spill.parent).free / 1e9
        raise WarehouseError(
            f"cannot write visits partitions to '{spill}' ({free:.1f} GB free there): {reason}; visits beyond "
            "processing.max_visits_in_memory are spilled beside the warehouse, about twice their Parquet size: free "
            "disk there, or raise processing.max_visits_in_memory if memory allows"
        ) from None


@dataclass(frozen=True)
class Spill:
    """A run's spill folder and its bound: ``max_rows`` visits are processed at once."""

    folder: Path
    max_rows: int

    def clear(self, keep: tuple[str, ...] = ()) -> None:
        """Remove what an earlier attempt of the run wrote (a retried read must not find it), but
        the stages in `keep`."""
        if not keep:
            shutil.rmtree(self.folder, ignore_errors=True)
            return
        for stage in os.listdir(self.folder) if self.folder.is_dir() else []:
            if stage not in keep:
                shutil.rmtree(self.folder / stage, ignore_errors=True)

    @property
    def read_folder(self) -> Path:
        """Stage ``read``: the files read into memory, set aside as Parquet (visitmix.sources.read_source)."""
        return self.folder / "read"

    def partitions(self, rows: int) -> int:
        return max(1, math.ceil(rows / self.max_rows))

    def write(self, frame: pl.DataFrame, stage: str, column: str, partitions: int, name: str) -> None:
        """Split `frame` by a hash of `column` into ``<stage>/p<partition>/<name>.parquet``."""
        bucket = (pl.col(column).hash(_SEED) % partitions).alias("__partition")
        for (index,), rows in frame.with_columns(bucket).partition_by("__partition", as_dict=True, include_key=False).items():
            folder = self.folder / stage / f"p{index:05d}"
            folder.mkdir(parents=True, exist_ok=True)
            spill_write(rows, folder / f"{name}.parquet", self.folder)

    def read(self, stage: str, index: int) -> pl.DataFrame | None:
        """The rows of one partition of `stage` (None when none fell in it), in the order written;
        its files are removed once read."""
        folder = self.folder / stage / f"p{index:05d}"
        files = sorted(folder / name for name in os.listdir(folder)) if folder.is_dir() else []
        if not files:
            return None
        frame = pl.concat([pl.read_parquet(f, glob=False) for f in files], how="diagonal_relaxed", rechunk=True)
        shutil.rmtree(folder, ignore_errors=True)
        return frame


def _slices(parts: tuple[RawPart, ...], rows: int) -> Iterator[RawPart]:
    """Each part, a Parquet file with more than `rows` rows in slices of `rows` (its rows keep their
    row numbers in the file: they are numbered before the slice). Other formats are mapped whole: a
    text file's footer is found at the end of the file, not of a slice."""
    for part in parts:
        try:
            total = part.frame.select(pl.len()).collect().item() if part.file.format == "parquet" else 0
        except DATA_ERRORS:
            total = 0  # a `where` that fails on the data: mapping the file whole names it
        if total <= rows:
            yield part
            continue
        for offset in range(0, total, rows):
            yield replace(part, frame=part.frame.slice(offset, rows))


@dataclass(frozen=True)
class Spilled:
    """Accepted visits spilled by account: `partitions` partitions of stage ``accepted``."""

    spill: Spill
    partitions: int


def prepare_visits(
    raw: RawSource,
    config: SourceConfig,
    timezone: str,
    parameters: dict,
    deals: pl.DataFrame | None,
    spill: Spill,
    step: Step,
) -> tuple[PreparedSource, dict[str, int]]:
    """Steps 1 and 2 for the visits source `raw` (see the module): what
    :func:`visitmix.canonicalise.canonicalise` and :func:`visitmix.prepare.check_rows` give, with
    the accepted rows spilled (``PreparedSource.spilled``; ``accepted`` is empty).

    Returns the prepared source (outcomes: the written-value ones, newest versions, the visits
    suite) and the footer rows dropped per file label. Raises SourceError as canonicalise does.
    """
    partitions = spill.partitions(raw.rows_read)
    spill.clear(keep=("read",))  # what this attempt's read set aside stays
    diagnostics, footers, in_scope = [], {}, 0
    with step("canonicalise visits"):
        decided = canonicalise.plan(raw, config)
        for index, part in enumerate(_slices(raw.parts, spill.max_rows)):
            chunk = canonicalise.map_files(RawSource(raw.name, (part,), 0), config, timezone, decided)
            diagnostics.append(chunk.diagnostics)
            footers.update(chunk.footer_rows)
            in_scope += chunk.frame.height
            spill.write(chunk.frame, "canonical", "visit_id", partitions, f"c{index:05d}")
            del chunk
    outcomes = canonicalise.outcomes(raw.name, config, timezone, decided, canonicalise.merge_diagnostics(diagnostics), in_scope)
    by = ENTITIES["visits"].versions_by
    newest_parts: list[list[ExpectationOutcome]] = []
    suite_parts: list[list[ExpectationOutcome]] = []
    flagged, unknown = [], set()
    cross_check: CrossCheck | None = None
    replaced = accepted = 0
    by_file_order = True  # no updated_at in any partition: the later path wins (prepare.file_order_outcome)
    with step("versions, checks and quarantine visits"):
        for index in range(partitions):
            frame = spill.read("canonical", index)
            if frame is None and (index < partitions - 1 or suite_parts):
                continue  # no rows here (an empty source is still checked once, below)
            frame = empty_canonical(ENTITIES["visits"]) if frame is None else frame
            by_file_order = by_file_order and frame.get_column("updated_at").null_count() == frame.height
            newest, superseded = versions.newest_versions(frame, by, compare=MOVED_BETWEEN["visits"])
            del frame
            replaced += superseded.height
            newest_parts.append(newest_outcomes("visits", newest.height + superseded.height, superseded))
            del superseded
            newest, result, words = run_checks(newest, "visits", parameters, deals, config.take_from_deal, cross_check is None)
            cross_check = cross_check or result.cross_check
            suite_parts.append(result.outcomes)
            unknown.update(words)
            assert result.reason is not None
            held = result.reason.is_not_null()
            flagged.append(newest.select(SOURCE_FILE, SOURCE_ROW).with_columns(result.reason).filter(held))
            kept = newest.filter(~held) if held.any() else newest
            del newest
            accepted += kept.height
            spill.write(kept, "accepted", "account_id", partitions, f"v{index:05d}")
            del kept
        statuses = sorted(unknown)[:MAX_LISTED_STATUSES]  # each partition lists its first ones: exact
        outcomes += merge_outcomes(newest_parts, in_scope)
        if replaced and by_file_order:
            outcomes += file_order_outcome("visits", [f.label or "" for f in raw.files], replaced)
        definition = load_suite_definition("visits")
        outcomes += [with_vocabulary(o, statuses) for o in merge_outcomes(suite_parts, in_scope, definition, parameters)]
        held_back = held_rows(raw, pl.concat(flagged))
    shutil.rmtree(spill.read_folder, ignore_errors=True)  # the files set aside are not read again
    counts = {"read": raw.rows_read, "in_scope": in_scope, "superseded": replaced, "quarantined": held_back.height, "accepted": accepted}
    prepared = PreparedSource("visits", empty_canonical(ENTITIES["visits"]), held_back, counts, outcomes, cross_check, statuses)
    prepared.spilled = Spilled(spill, partitions)
    return prepared, footers


@dataclass
class Classified:
    """Step 3's result: the classified visits as Parquet files, and what the checks and marts need."""

    paths: list[Path]
    rows: int
    mix: dict[str, int]  # visit_type → completed visits
    outcomes: list[ExpectationOutcome]  # the fct_visit suite, merged
    cross_check: CrossCheck | None
    rows_checked: int  # visits whose references were checked
    # per visit column (account_id, rep_id): the visits whose id the parent input lacks (lineage and
    # the id), when that input is configured; and the distinct such ids (all ids without the input)
    dangling: dict[str, pl.DataFrame] = field(default_factory=dict)
    beyond: dict[str, pl.DataFrame] = field(default_factory=dict)


def classify_visits(
    spilled: Spilled,
    parents: dict[str, tuple[pl.DataFrame, str] | None],
    customers: pl.DataFrame,
    timezone: str,
    reengage_after_days: int | None,
    parameters: dict,
    reported_type_map: Mapping[str, str] | None = None,
) -> Classified:
    """Step 3 (see the module): per account partition, the references, the classification
    (transforms.classify) and the fct_visit suite.

    `parents`: per visit column (``account_id``, ``rep_id``) the parent input's accepted rows and
    key, or None when it is not configured. `customers`: transforms.customers.customer_since.
    Out: classified rows as transforms.classify.classify_visits gives them, in
    ``classified/p<partition>.parquet``.
    """
    spill = spilled.spill
    folder = spill.folder / "classified"
    folder.mkdir(parents=True, exist_ok=True)
    paths, mix, suite_parts = [], {}, []
    dangling: dict[str, list[pl.DataFrame]] = {c: [] for c in parents}
    beyond: dict[str, list[pl.DataFrame]] = {c: [] for c in parents}
    cross_check, rows, checked = None, 0, 0
    for index in range(spilled.partitions):
        frame = spill.read("accepted", index)
        if frame is None:
            continue
        checked += frame.height
        for column, parent in parents.items():
            if parent is None:
                beyond[column].append(frame.select(pl.col(column).unique()))
                continue
            bad = references.dangling(frame.lazy(), column, parent[0].lazy(), parent[1]).select(SOURCE_FILE, SOURCE_ROW, column).collect()
            dangling[column].append(bad)
            beyond[column].append(bad.select(pl.col(column).unique()))
        visits = frame.drop(CHECKED_ONLY)
        del frame
        classified = classify.classify_visits(visits, customers, timezone, reengage_after_days, reported_type_map).collect()
        del visits
        result = run_suite(classified, "fct_visit", parameters, index_columns=("visit_id",), cross_check=cross_check is None)
        cross_check = cross_check or result.cross_check
        suite_parts.append(result.outcomes)
        for visit_type, count in classified.select("visit_type").drop_nulls().group_by("visit_type").len().iter_rows():
            mix[visit_type] = mix.get(visit_type, 0) + count
        rows += classified.height
        path = folder / f"p{index:05d}.parquet"
        spill_write(classified, path, spill.folder)
        paths.append(path)
        del classified
    if not paths:  # nothing accepted: the in-memory path hands over an empty frame too
        empty = classify.classify_visits(empty_canonical(ENTITIES["visits"]).drop(CHECKED_ONLY), customers, timezone,
                                         reengage_after_days, reported_type_map).collect()
        result = run_suite(empty, "fct_visit", parameters, index_columns=("visit_id",))
        cross_check, suite_parts = result.cross_check, [result.outcomes]
        paths.append(folder / "p00000.parquet")
        empty.write_parquet(paths[0])
    outcomes = merge_outcomes(suite_parts, rows, load_suite_definition("fct_visit"), parameters)
    return Classified(
        paths, rows, mix, outcomes, cross_check, checked,
        {c: pl.concat(f) if f else pl.DataFrame(schema={SOURCE_FILE: pl.String, SOURCE_ROW: pl.Int64, c: pl.String})
         for c, f in dangling.items() if parents[c] is not None},
        {c: pl.concat(f).unique() if f else pl.DataFrame({c: []}, schema={c: pl.String}) for c, f in beyond.items()},
    )
