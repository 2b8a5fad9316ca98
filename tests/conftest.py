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
    """Settings whose corpus, index and data folders all live inside tmp_path.

    A build started by an engine waits for its passage vectors (the tests' answers must not depend
    on how far a background encoder got); tests of the background encoding ask for it.
    """
    return replace(
        Settings(),
        corpus_dir=Path(corpus_dir) if corpus_dir is not None else tmp_path / "corpus",
        index_dir=tmp_path / "index",
        data_dir=tmp_path / "data",
        **{"background_vectors": False, **changes},
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


def build_seed_once(tmp_path_factory: pytest.TempPathFactory, semantic: bool) -> Path:
    from bot.builder import build_index

    root = tmp_path_factory.mktemp("seed-build" if semantic else "seed-build-words")
    copy_seed_corpus(root)
    build_index(settings_in(root, semantic=semantic))
    return root


@pytest.fixture(scope="session")
def seed_build(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder holding the seed corpus (`corpus/`) and its index with passage vectors (`index/`), built
    once per session: encoding the passages is most of a build. Copy it (copy_seed_index); never change it."""
    return build_seed_once(tmp_path_factory, semantic=True)


@pytest.fixture(scope="session")
def seed_build_words(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same without passage vectors (semantic=False), for tests that are not about the sentence model."""
    return build_seed_once(tmp_path_factory, semantic=False)


def copy_seed_index(seed_build: Path, index_dir: Path) -> None:
    """Put a copy of the session's seed index in index_dir. It is current for any folder holding the seed
    corpus (copy_seed_corpus keeps the files' times); only its manifest's corpus_dir names the original."""
    shutil.copytree(seed_build / "index", index_dir, symlinks=True, dirs_exist_ok=True)


@pytest.fixture
def built_seed(tmp_path: Path, seed_build: Path) -> Settings:
    """Settings in tmp_path whose index is already built from the seed corpus (reloads checked at once)."""
    copy_seed_corpus(tmp_path)
    copy_seed_index(seed_build, tmp_path / "index")
    return settings_in(tmp_path, reload_seconds=0)


@pytest.fixture
def built_seed_words(tmp_path: Path, seed_build_words: Path) -> Settings:
    """As built_seed, without the sentence model (semantic=False): for tests that are not about it."""
    copy_seed_corpus(tmp_path)
    copy_seed_index(seed_build_words, tmp_path / "index")
    return settings_in(tmp_path, reload_seconds=0, semantic=False)
