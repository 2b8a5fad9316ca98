"""Benchmark inputs: the shared MedQuAD data, corpora of a target passage count, and questions.

A corpus of N passages is made of real MedQuAD articles: the dev pages first, then the LiveQA
pages, then renamed copies of both ("copy01-<name>", "copy02-<name>", ...) until the bot's own
passage count reaches N. Per-article passage counts come from one build of the bot over all
shared articles, so the sizes are in the bot's passages, the ones every system indexes.
"""

from __future__ import annotations

import json
import os
import shutil
from collections import Counter
from dataclasses import dataclass, replace
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_BENCHMARKS = REPO_ROOT.parent / "shared" / "benchmarks" / "medquad"
CORPUS_FOLDERS = ("corpus-dev", "corpus-liveqa")


def benchmarks_dir() -> Path:
    """The shared MedQuAD folder: BOT_BENCHMARKS_DIR, else ../shared/benchmarks/medquad."""
    value = os.environ.get("BOT_BENCHMARKS_DIR", "").strip()
    return Path(value).expanduser() if value else DEFAULT_BENCHMARKS


def missing_inputs(root: Path) -> list[str]:
    """The files and folders the benchmark needs that are not under `root`."""
    needed = [*CORPUS_FOLDERS, "questions-dev.json", "questions-liveqa-dev.json"]
    return [name for name in needed if not (root / name).exists()]


@dataclass(frozen=True)
class Question:
    """One benchmark question; `kind` is "short" (MedQuAD) or "long" (LiveQA, as people wrote it)."""

    kind: str
    text: str


def one_line(text: str) -> str:
    """Collapse whitespace, so a question is one stdin line for `ask`."""
    return " ".join(text.split())


def load_questions(root: Path, limit: int | None = None) -> list[Question]:
    """MedQuAD dev `question` (short), then LiveQA dev `original` (long); at most `limit` of each."""
    short = [one_line(q["question"]) for q in json.loads((root / "questions-dev.json").read_text(encoding="utf-8"))]
    long = [
        one_line(q["original"]) for q in json.loads((root / "questions-liveqa-dev.json").read_text(encoding="utf-8"))
    ]
    if limit is not None:
        short, long = short[:limit], long[:limit]
    return [Question("short", q) for q in short if q] + [Question("long", q) for q in long if q]


def source_articles(root: Path) -> list[Path]:
    """All shared articles in a fixed order: dev pages, then LiveQA pages."""
    return [p for folder in CORPUS_FOLDERS for p in sorted((root / folder).glob("*.md"))]


def count_passages(articles: list[Path], work: Path) -> dict[str, int]:
    """Passages per article name, from one build of the bot over all of them (in `work`)."""
    from bot.builder import build_index
    from bot.config import Settings
    from bot.engine import Engine

    corpus = work / "corpus"
    corpus.mkdir(parents=True)
    for path in articles:
        shutil.copyfile(path, corpus / path.name)
    settings = replace(  # counting needs no passage vectors
        Settings(),
        corpus_dir=corpus,
        index_dir=work / "index",
        data_dir=work / "data",
        reload_seconds=3600,
        semantic=False,
    )
    build_index(settings)
    engine = Engine(settings)
    engine.open()
    counts = Counter(p.source for p in engine.snapshot().index.passages)
    return {path.name: counts.get(path.name, 0) for path in articles}


def plan_corpus(articles: list[Path], counts: dict[str, int], target: int) -> list[tuple[Path, str]]:
    """(source file, name in the corpus) pairs whose passages add up to at least `target`."""
    if sum(counts.values()) <= 0:
        raise ValueError("the shared articles produced no passages")
    plan: list[tuple[Path, str]] = []
    total, copy = 0, 0
    while total < target:
        for path in articles:
            if total >= target:
                break
            plan.append((path, path.name if copy == 0 else f"copy{copy:02d}-{path.name}"))
            total += counts[path.name]
        copy += 1
    return plan


def write_corpus(plan: list[tuple[Path, str]], corpus: Path) -> None:
    """Copy the planned articles into `corpus` under their planned names."""
    corpus.mkdir(parents=True)
    for path, name in plan:
        shutil.copyfile(path, corpus / name)


def parse_size(label: str) -> int:
    """'1k' -> 1000, '100k' -> 100000, '2500' -> 2500."""
    text = label.strip().lower()
    if text.endswith("k"):
        return int(float(text[:-1]) * 1000)
    return int(text)
