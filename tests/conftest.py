"""Shared fixtures: the repository root, the seed article, and settings/corpora in tmp_path.

No autouse fixtures here: the Telegram tests import from this module too.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from bot.config import Settings

REPO_ROOT = Path(__file__).resolve().parent.parent
SEED_ARTICLE = REPO_ROOT / "corpus" / "vitamin-k2-d3-bone-density.txt"
SEED_SYNONYMS = REPO_ROOT / "corpus" / "synonyms.conf"


def settings_in(tmp_path: Path, corpus_dir: Path | None = None, **changes: Any) -> Settings:
    """Settings whose corpus, index and data folders all live inside tmp_path."""
    return replace(
        Settings(),
        corpus_dir=Path(corpus_dir) if corpus_dir is not None else tmp_path / "corpus",
        index_dir=tmp_path / "index",
        data_dir=tmp_path / "data",
        **changes,
    )


def copy_seed_corpus(tmp_path: Path) -> Path:
    """tmp_path/corpus holding the seed article and the corpus synonyms file; returns the folder."""
    corpus = tmp_path / "corpus"
    corpus.mkdir(parents=True, exist_ok=True)
    shutil.copy2(SEED_ARTICLE, corpus / SEED_ARTICLE.name)
    shutil.copy2(SEED_SYNONYMS, corpus / SEED_SYNONYMS.name)
    return corpus


@pytest.fixture
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture
def seed_article() -> Path:
    return SEED_ARTICLE


@pytest.fixture
def make_settings() -> Callable[..., Settings]:
    """make_settings(tmp_path, corpus_dir=None, **changes) -> Settings inside tmp_path."""
    return settings_in


@pytest.fixture
def seed_corpus() -> Callable[[Path], Path]:
    """seed_corpus(tmp_path) -> a corpus folder with the seed article and synonyms.conf."""
    return copy_seed_corpus


@pytest.fixture
def built_seed(tmp_path: Path) -> Settings:
    """Settings in tmp_path whose index is already built from the seed corpus (reloads checked at once)."""
    from bot.builder import build_index

    copy_seed_corpus(tmp_path)
    settings = settings_in(tmp_path, reload_seconds=0)
    build_index(settings)
    return settings
