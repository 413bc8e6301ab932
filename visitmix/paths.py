"""Where the project's versioned files live (SQL, expectation suites, the bundled sample)."""

from __future__ import annotations

from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SQL_DIR = PROJECT_ROOT / "sql"
EXPECTATIONS_DIR = PROJECT_ROOT / "expectations"
SAMPLE_DIR = PROJECT_ROOT / "data" / "sample"
SAMPLE_CONFIG = SAMPLE_DIR / "visitmix.toml"
