"""Fixtures for the search analyser tests: one analyser per session (Kiwi takes seconds to load)."""

from __future__ import annotations

from pathlib import Path

import pytest

from entrepot.search.analyzers import MultilingualAnalyzer, get_analyzer

# The shared corpora live beside the repository, never inside it.
SHARED_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"


@pytest.fixture(scope="session")
def analyzer() -> MultilingualAnalyzer:
    a = get_analyzer("multilingual")
    assert isinstance(a, MultilingualAnalyzer)
    return a


@pytest.fixture(scope="session")
def corpora_dir() -> Path:
    path = SHARED_DATA / "corpora"
    if not (path / "korquad-v1.0" / "passages.jsonl").exists():
        pytest.skip(f"shared search corpora not found at {path} (they live outside the repo)")
    return path
