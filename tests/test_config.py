from pathlib import Path

import pytest

from entrepot.core.config import load_settings


def test_environment_beats_toml_and_arguments_beat_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    toml = tmp_path / "entrepot.toml"
    toml.write_text('port = 7000\nhost = "0.0.0.0"\nallowed_networks = ["10.1.0.0/16"]\n')
    monkeypatch.delenv("ENTREPOT_PORT", raising=False)
    s = load_settings(config_file=toml)
    assert (s.port, s.host, s.allowed_networks) == (7000, "0.0.0.0", ["10.1.0.0/16"])
    monkeypatch.setenv("ENTREPOT_PORT", "9000")
    assert load_settings(config_file=toml).port == 9000
    assert load_settings(config_file=toml, port=1234).port == 1234


def test_data_dir_from_environment_names_the_sqlite_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENTREPOT_DATA_DIR", str(tmp_path / "d"))
    monkeypatch.delenv("ENTREPOT_DATABASE_URL", raising=False)
    s = load_settings()
    assert s.db_url == f"sqlite:///{(tmp_path / 'd' / 'entrepot.db').resolve()}"


def test_bad_settings_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        load_settings(default_language="fr")
    with pytest.raises(FileNotFoundError):
        load_settings(config_file=tmp_path / "missing.toml")
