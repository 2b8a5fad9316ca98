#!/usr/bin/env python3
"""Benchmark (not a test): passage sizes, index build time, query latency and memory.

    .venv/bin/python tests/bench.py [--articles 200] [--repeat 3]

Runs on the seed corpus and on a synthetic corpus made by varying the seed article, both built
in a temporary folder (the repository's own index/ is never touched).
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from bot.builder import build_index  # noqa: E402
from bot.config import Settings  # noqa: E402
from bot.engine import Engine  # noqa: E402
from bot.evaluation import load_cases  # noqa: E402

SEED = REPO_ROOT / "corpus" / "vitamin-k2-d3-bone-density.txt"
SYNONYMS = REPO_ROOT / "corpus" / "synonyms.conf"
DEV = REPO_ROOT / "tests" / "eval" / "dev.jsonl"

# words swapped per synthetic article, so articles differ in vocabulary, not only in title
VARIANTS = [
    ("calcium", ["calcium", "magnesium", "zinc", "iron", "potassium", "selenium"]),
    ("bone", ["bone", "joint", "muscle", "tendon", "cartilage", "skeletal"]),
    ("Vitamin K2", ["Vitamin K2", "Vitamin B12", "Vitamin C", "Omega-3", "Vitamin E", "Folate"]),
    ("Vitamin D3", ["Vitamin D3", "Vitamin A", "Iodine", "Vitamin B6", "Choline", "Biotin"]),
    ("arteries", ["arteries", "veins", "kidneys", "liver", "skin", "eyes"]),
    ("Natto", ["Natto", "Kefir", "Tempeh", "Miso", "Kimchi", "Sauerkraut"]),
]


def settings_for(root: Path, corpus: Path) -> Settings:
    return replace(Settings(), corpus_dir=corpus, index_dir=root / "index", data_dir=root / "data", reload_seconds=3600)


def synthetic_corpus(corpus: Path, n: int) -> None:
    """n articles derived from the seed: a numbered title and rotated key terms."""
    corpus.mkdir(parents=True)
    shutil.copy(SYNONYMS, corpus / SYNONYMS.name)
    text = SEED.read_text(encoding="utf-8")
    rng = random.Random(42)
    for i in range(n):
        body = text
        for word, choices in VARIANTS:
            body = body.replace(word, choices[(i + rng.randrange(len(choices))) % len(choices)])
        lines = body.splitlines()
        lines[2] = f"{lines[2]} (part {i + 1})"  # the title line, after the image name
        body = "\n".join(lines) + f"\n\nArticle {i + 1} reference code ref{i:04d}.\n"
        (corpus / f"article-{i:04d}.txt").write_text(body, encoding="utf-8")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    k = (len(ordered) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def bench(label: str, settings: Settings, questions: list[tuple[str, tuple[str, ...]]], repeat: int) -> dict[str, float]:
    builds = []
    for _ in range(repeat):
        started = time.perf_counter()
        report = build_index(settings)
        builds.append(time.perf_counter() - started)
    started = time.perf_counter()
    engine = Engine(settings)
    engine.open()
    load = time.perf_counter() - started
    passages = engine.snapshot().index.passages
    sizes = [len(p.text.split()) for p in passages]
    engine.answer("warm up the caches")
    latencies = []
    for n, (question, context) in enumerate(questions):
        conversation = f"bench-{n}"
        for turn in context:
            engine.answer(turn, conversation)
        started = time.perf_counter()
        engine.answer(question, conversation)
        latencies.append((time.perf_counter() - started) * 1000)
    build_dir = settings.index_dir / engine.snapshot().index.manifest["build_dir"]
    index_bytes = sum(p.stat().st_size for p in build_dir.iterdir()) + (settings.index_dir / "manifest.json").stat().st_size
    row = {
        "articles": report.articles,
        "passages": len(passages),
        "mean_words": statistics.mean(sizes),
        "max_words": max(sizes),
        "build_s_median": statistics.median(builds),
        "load_s": load,
        "query_ms_p50": percentile(latencies, 0.5),
        "query_ms_p95": percentile(latencies, 0.95),
        "query_ms_max": max(latencies),
        "index_kib": index_bytes / 1024,
        "peak_rss_mib": peak_rss_mb(),
    }
    print(f"\n== {label} ==")
    print(f"articles: {row['articles']}   passages: {row['passages']}")
    print(f"passage length (words): mean {row['mean_words']:.1f}, max {row['max_words']}")
    print(f"index build: {row['build_s_median']:.3f} s (median of {repeat}; all: {', '.join(f'{b:.3f}' for b in builds)})")
    print(f"index load (Engine.open): {row['load_s']:.3f} s   current build on disk: {row['index_kib']:.0f} KiB")
    print(
        f"query latency over {len(latencies)} dev questions: p50 {row['query_ms_p50']:.2f} ms, "
        f"p95 {row['query_ms_p95']:.2f} ms, max {row['query_ms_max']:.2f} ms"
    )
    print(f"peak RSS so far: {row['peak_rss_mib']:.1f} MiB")
    return row


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--articles", type=int, default=200, help="synthetic corpus size (default 200)")
    parser.add_argument("--repeat", type=int, default=3, help="builds to time per corpus (default 3)")
    parser.add_argument("--json", action="store_true", help="also print the numbers as JSON")
    args = parser.parse_args()

    questions = [(c.question, c.context) for c in load_cases(DEV)]
    print(f"python {sys.version.split()[0]}; {len(questions)} dev questions; peak RSS at start {peak_rss_mb():.1f} MiB")
    rows = {}
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        root = Path(tmp)
        seed_corpus = root / "seed" / "corpus"
        seed_corpus.mkdir(parents=True)
        shutil.copy(SEED, seed_corpus / SEED.name)
        shutil.copy(SYNONYMS, seed_corpus / SYNONYMS.name)
        rows["seed"] = bench("seed corpus", settings_for(root / "seed", seed_corpus), questions, args.repeat)

        synth = root / "synthetic" / "corpus"
        synthetic_corpus(synth, args.articles)
        size = sum(p.stat().st_size for p in synth.iterdir()) / 1024
        print(f"\n(synthetic corpus: {args.articles} articles, {size:.0f} KiB of text)")
        rows["synthetic"] = bench(
            f"synthetic corpus ({args.articles} varied copies of the seed)",
            settings_for(root / "synthetic", synth),
            questions,
            max(1, min(args.repeat, 2)),
        )
    if args.json:
        print(json.dumps({k: {m: round(v, 4) for m, v in r.items()} for k, r in rows.items()}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
