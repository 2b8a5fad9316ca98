"""Run one system on one corpus in this process and write its figures as JSON.

    python -m bench.worker count --work W --out R.json
    python -m bench.worker bot-build --corpus C --work W --changed NAME --passages P.jsonl --out R.json
    python -m bench.worker bot --corpus C --work W --questions Q.json --out R.json
    python -m bench.worker peer --name tantivy --work W --passages P.jsonl --questions Q.json
        --changed NAME --out R.json

bench/run.py starts one worker per system, so each system's peak RSS is its own process's: the
worker adds VmHWM from /proc/self/status (the high-water RSS of this process's memory since exec).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from bench import corpora  # noqa: E402
from bench.systems import BotInProcess, Doc, make_peer  # noqa: E402

CHANGE = "\n\nThis page was updated for the benchmark: one more sentence about its topic.\n"


def peer_text(section: str, subsection: str, text: str) -> str:
    """What the peers index for a passage: its titles, then its text."""
    return "\n".join(part for part in (section, subsection, text) if part)


def time_questions(search: Callable[[str], list[Any]], questions: list[dict[str, str]]) -> dict[str, Any]:
    """Milliseconds per question and how many got any result, per kind; one untimed warm-up first."""
    if questions:
        search(questions[0]["text"])
    latencies: dict[str, list[float]] = {}
    answered: dict[str, int] = {}
    for q in questions:
        started = time.perf_counter()
        found = search(q["text"])
        latencies.setdefault(q["kind"], []).append((time.perf_counter() - started) * 1000)
        answered[q["kind"]] = answered.get(q["kind"], 0) + (1 if found else 0)
    return {"latency_ms": latencies, "answered": answered}


def timed(action: Callable[[], Any]) -> tuple[Any, float]:
    """The action's result and its wall time in seconds."""
    started = time.perf_counter()
    result = action()
    return result, time.perf_counter() - started


def bot_build(args: argparse.Namespace) -> dict[str, Any]:
    """Full build (by words, then the vectors), the passages for the peers, index size, the model's own
    encoding rate, then a re-index after one article changed."""
    bot = BotInProcess(args.corpus, args.work)
    (passages, words_s), seconds = timed(bot.build)
    bot.open()
    with args.passages.open("w", encoding="utf-8") as out:
        for pid, p in enumerate(bot.passages()):
            out.write(
                json.dumps(
                    {"pid": pid, "source": p.source, "text": peer_text(p.section, p.subsection, p.text)},
                    ensure_ascii=False,
                )
                + "\n"
            )
    words = sum(len(p.text.split()) for p in bot.passages())
    disk = bot.disk_bytes()
    model_rate = bot.model_rate()
    article = args.corpus / args.changed
    original = article.read_bytes()
    article.write_bytes(original + CHANGE.encode())
    (_, reindex_words), reindex = timed(bot.build)
    article.write_bytes(original)
    bot.build()  # back to the passages every other system indexes
    return {
        "passages": passages,
        "words": words,
        "build_s": seconds,
        "words_build_s": words_s,
        "model_passages_per_s": model_rate,
        "reindex_s": reindex,
        "reindex_words_s": reindex_words,
        "reindex_kind": "build_index",
        "disk_bytes": disk,
    }


def bot_serve(args: argparse.Namespace) -> dict[str, Any]:
    """Open the built index and answer every question through Engine.answer."""
    bot = BotInProcess(args.corpus, args.work)
    _, load = timed(bot.open)
    return {"load_s": load, **time_questions(bot.search, read_questions(args.questions))}


def read_docs(path: Path) -> list[Doc]:
    with path.open(encoding="utf-8") as lines:
        return [Doc(**json.loads(line)) for line in lines]


def read_questions(path: Path) -> list[dict[str, str]]:
    return json.loads(path.read_text(encoding="utf-8"))


def changed_docs(docs: list[Doc], source: str) -> list[Doc]:
    """The changed article's passages: its last one gains the benchmark sentence."""
    own = [d for d in docs if d.source == source]
    if own:
        last = own[-1]
        own[-1] = Doc(last.pid, last.source, last.text + CHANGE)
    return own


def peer(args: argparse.Namespace) -> dict[str, Any]:
    """Build one peer on the bot's passages, answer every question, re-index one article."""
    system = make_peer(args.name)
    docs = read_docs(args.passages)
    work = args.work / args.name
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    _, seconds = timed(lambda: system.build(docs, work))
    result = time_questions(system.search, read_questions(args.questions))
    changed = changed_docs(docs, args.changed)
    by_pid = {d.pid: d for d in changed}
    updated = [by_pid.get(d.pid, d) for d in docs]
    kind, reindex = timed(lambda: system.update(updated, args.changed, changed))
    disk = system.disk_bytes()
    shutil.rmtree(work, ignore_errors=True)
    return {
        "name": system.name,
        "build_s": seconds,
        "reindex_s": reindex,
        "reindex_kind": kind,
        "disk_bytes": disk,
        **result,
    }


def count(args: argparse.Namespace) -> dict[str, Any]:
    """The bot's passage count of every shared article (one build, in this worker's folder)."""
    return corpora.count_passages(corpora.source_articles(corpora.benchmarks_dir()), args.work / "count")


def high_water_kib() -> int | None:
    """This process's peak RSS (VmHWM) in KiB, or None where /proc is missing."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("mode", choices=["count", "bot-build", "bot", "peer"])
    parser.add_argument("--name", help="peer: okapi, plus, bm25s, tantivy or fts5")
    parser.add_argument("--corpus", type=Path)
    parser.add_argument("--work", type=Path, required=True)
    parser.add_argument("--passages", type=Path)
    parser.add_argument("--questions", type=Path)
    parser.add_argument("--changed", help="file name of the article to change for the re-index figure")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    run = {"count": count, "bot-build": bot_build, "bot": bot_serve, "peer": peer}[args.mode]
    result = run(args)
    if args.mode != "count":
        result["vm_hwm_kib"] = high_water_kib()
    args.out.write_text(json.dumps(result), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
