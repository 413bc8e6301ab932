"""The TOML config: validation, unknown keys by name, path resolution."""

from __future__ import annotations

from pathlib import Path

import pytest

from visitmix.config import load_config
from visitmix.errors import ConfigError

MINIMAL = """
[sources.visits]
path = "exports/visits.csv"
"""


def test_minimal_config_defaults_and_relative_paths(tmp_path: Path):
    path = tmp_path / "cfg" / "visitmix.toml"
    path.parent.mkdir()
    path.write_text(MINIMAL)
    config = load_config(path)
    assert config.sources.visits.path == (tmp_path / "cfg" / "exports" / "visits.csv").resolve()
    assert config.warehouse.path == (tmp_path / "cfg" / "warehouse" / "visitmix.duckdb").resolve()
    assert config.classification.timezone == "Asia/Bangkok"
    assert config.classification.reengage_after_days is None
    assert (config.target_mix.new_prospect, config.target_mix.hot_prospect, config.target_mix.existing_customer) == (0.20, 0.25, 0.55)
    assert config.validation.max_quarantine_share == 0.05


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[classification]\nreengage_after_dayz = 3\n" + MINIMAL, "unknown config key 'classification.reengage_after_dayz'"),
        ("[sources.visits]\npath = 'v.csv'\n[sources.visits.columns]\nvisit_idd = 'Id'\n", "sources.visits.columns.visit_idd"),
        ("[target_mix]\nnew_prospect = 0.5\nhot_prospect = 0.5\nexisting_customer = 0.5\n" + MINIMAL, "target shares must sum to 1"),
        ("[target_mix]\nnew_prospect = 1.5\n" + MINIMAL, "config key 'target_mix.new_prospect'"),
        ("[classification]\ntimezone = 'Mars/Olympus'\n" + MINIMAL, "'Mars/Olympus' is not an IANA time zone name"),
        ("[warehouse]\npath = 'x.duckdb'\n", "missing config key 'sources'"),
        ("[sources.visits\npath = 1", "is not valid TOML"),
        ("[sources.calls]\npath = 'c.csv'\n" + MINIMAL, "unknown config key 'sources.calls'"),
    ],
)
def test_bad_config_names_file_and_key(tmp_path: Path, text: str, message: str):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert message in str(info.value)
    assert str(path) in str(info.value)


def test_missing_config_file(tmp_path: Path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "nope.toml")


def test_a_config_saved_with_a_byte_order_mark_reads(tmp_path: Path):
    """Windows Notepad saves UTF-8 with a BOM; TOML itself does not allow one."""
    path = tmp_path / "bom.toml"
    path.write_bytes(b"\xef\xbb\xbf" + '[classification]\ntimezone = "Asia/Bangkok"\n[sources.visits]\npath = "v.csv"\n'.encode())
    assert load_config(path).classification.timezone == "Asia/Bangkok"


def test_a_tilde_in_a_path_is_the_home_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """"~/exports/v.csv" means the home folder, as in a shell; a QA pass found a run creating a folder
    named ~ beside the config, with a warehouse in it."""
    home = tmp_path / "home"
    monkeypatch.setenv("HOME", str(home))
    config = tmp_path / "c.toml"
    config.write_text('[warehouse]\npath = "~/wh/v.duckdb"\n[sources.visits]\npath = "~/exports/v_*.csv"\n'
                      '[[sources.visits.lookups]]\npath = "owners.csv"\non = "Id"\ntake = ["Owner"]\n', encoding="utf-8")
    loaded = load_config(config)
    assert loaded.warehouse.path == home / "wh" / "v.duckdb"
    assert loaded.sources.visits.path == home / "exports" / "v_*.csv"
    assert loaded.sources.visits.lookups[0].paths == [home / "exports" / "owners.csv"]  # beside the source's files
    config.write_text('[sources.visits]\npath = "v.csv"\n[sources.reps]\nuri = "sqlite:///~/crm/crm.db"\ntable = "reps"\n', encoding="utf-8")
    assert load_config(config).sources.reps.uri == f"sqlite:///{(home / 'crm' / 'crm.db').as_posix()}"  # a SQLite file too


def test_two_labels_that_read_as_one_must_name_one_type(tmp_path: Path):
    config = tmp_path / "c.toml"
    config.write_text('[classification]\nreported_type_map = { "New" = "hot_prospect", "new visit" = "existing_customer" }\n'
                      '[sources.visits]\npath = "v.csv"\n')
    with pytest.raises(ConfigError, match=r"reported_type_map: 'New' and 'new visit' are one label .* name hot_prospect and "
                                          r"existing_customer: keep one"):
        load_config(config)
    config.write_text('[classification]\nreported_type_map = { "New" = "hot_prospect", "new visit" = "hot_prospect" }\n'
                      '[sources.visits]\npath = "v.csv"\n')
    assert load_config(config).classification.reported_type_map == {"New": "hot_prospect", "new visit": "hot_prospect"}
