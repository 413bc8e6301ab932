"""The benchmark's peers (plain DuckDB SQL, pandas) and `visitmix run` agree on generated data."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

from flows.visit_mix import visit_mix_flow

BENCH = Path(__file__).resolve().parent.parent / "bench"
sys.path.insert(0, str(BENCH))

from compare import compare  # noqa: E402
from generate import generate  # noqa: E402
import peer_duckdb  # noqa: E402
import peer_pandas  # noqa: E402


@pytest.mark.usefixtures("prefect_harness")
def test_peers_and_product_give_identical_types_and_mix(tmp_path: Path):
    config = generate(3_000, tmp_path / "data", seed=7)  # ties, re-delivered ids, skewed accounts
    summary = visit_mix_flow(str(config))
    assert summary.rows_quarantined == 0 and summary.rows_classified > 2_000
    warehouse = tmp_path / "data" / "warehouse" / "visitmix.duckdb"
    peer_duckdb.run(tmp_path / "data", tmp_path / "peer.duckdb")
    peer_pandas.run(tmp_path / "data", tmp_path / "peer_pandas")
    for peer in (tmp_path / "peer.duckdb", tmp_path / "peer_pandas"):
        result = compare(warehouse, peer)
        assert result.identical, result.differences[:5]
    shutil.rmtree(tmp_path / "data")
