"""CRM presets: mapping files (one TOML per CRM, one section per canonical input), not code."""

from __future__ import annotations

import tomllib
from functools import cache
from pathlib import Path
from typing import Any

PRESETS_DIR = Path(__file__).resolve().parent


@cache
def load_preset(name: str) -> dict[str, Any]:
    """``presets/<name>.toml`` as a dict: ``{entity: {columns, expressions, where, take_from_deal}}``."""
    return tomllib.loads((PRESETS_DIR / f"{name}.toml").read_text(encoding="utf-8"))


def merged_source(entity: str, user: dict[str, Any], has_deals: bool = True) -> dict[str, Any]:
    """The user's source section laid over the preset's section for `entity`; the user's keys win.

    A canonical column the user maps in ``columns`` drops the preset's expression for it, and the
    other way round; the user's ``status_map`` entries extend the preset's. The preset turns source
    column names into snake_case unless the user says not to. A preset's ``take_from_deal`` applies
    only when a deals source is configured (`has_deals`): visits then reach their account through
    their deal; without one they use their own account column.
    """
    preset = load_preset(user["preset"]).get(entity, {})
    columns = dict(preset.get("columns", {}))
    expressions = dict(preset.get("expressions", {}))
    for key in user.get("columns", {}):
        expressions.pop(key, None)
    for key in user.get("expressions", {}):
        columns.pop(key, None)
    columns.update(user.get("columns", {}))
    expressions.update(user.get("expressions", {}))
    merged = {key: value for key, value in preset.items() if key not in ("columns", "expressions")}
    if not has_deals:
        merged.pop("take_from_deal", None)
    merged.setdefault("column_case", "snake")
    merged.update({k: v for k, v in user.items() if k not in ("columns", "expressions", "status_map")})
    merged["columns"], merged["expressions"] = columns, expressions
    if "status_map" in preset or "status_map" in user:
        merged["status_map"] = {**preset.get("status_map", {}), **user.get("status_map", {})}
    return merged
