#!/usr/bin/env python3
"""Side-by-side benchmark: this bot against rank-bm25, bm25s, a hybrid anchor, tantivy and SQLite FTS5.

    .venv/bin/python bench/run.py [--sizes 1k,10k] [--questions N] [--systems bot,ask,bm25s,hybrid,...] [--json FILE]

The hybrid anchor is the pipeline a user could assemble: bm25s, plus the question encoded with the
bot's sentence model, plus one dot product over all passage vectors: the floor a question is held to.

Corpora are real MedQuAD text from ../shared/benchmarks/medquad (or BOT_BENCHMARKS_DIR), grown to
about the given passage counts by copying articles under new names; questions are MedQuAD (short)
and LiveQA (long). Every system indexes exactly the passages the bot built and runs in its own
process. Everything happens in a temporary folder; the repository's index/ is never touched.
100k passages takes many minutes, so it is opt-in: --sizes 1k,10k,100k.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from bench import corpora, report  # noqa: E402
from bench.systems import ALL_SYSTEMS, TOP_K  # noqa: E402

PEERS = ("okapi", "plus", "bm25s", "hybrid", "tantivy", "fts5")
LABELS = {
    "bot": "bot in process",
    "ask": "bot ask --json",
    "okapi": "rank-bm25 BM25Okapi",
    "plus": "rank-bm25 BM25Plus",
    "bm25s": "bm25s",
    "hybrid": "hybrid anchor: bm25s + model + dot",
    "tantivy": "tantivy",
    "fts5": "SQLite FTS5",
}


def log(message: str) -> None:
    """Progress goes to stderr, so stdout holds only the report."""
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def child_env(work: Path) -> dict[str, str]:
    """The environment of every child: the repo importable, the bot's data kept in the work folder."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH", "")]))
    env["BOT_DATA_DIR"] = str(work / "data")
    env["BOT_RELOAD_SECONDS"] = "3600"
    return env


def wait_child(proc: subprocess.Popen[Any]) -> tuple[int, int]:
    """Reap `proc` with os.wait4: its exit code and its peak RSS (ru_maxrss) in KiB.

    Linux carries the parent's RSS at fork into the child's ru_maxrss, so this process stays small
    (it imports neither the bot nor any engine) and workers report their own VmHWM as well.
    """
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    return proc.returncode, usage.ru_maxrss


def run_worker(mode: str, work: Path, options: list[str]) -> dict[str, Any]:
    """Run bench/worker.py in a child process; its JSON figures plus its peak RSS."""
    out = work / f"result-{mode}-{time.monotonic_ns()}.json"
    errors = work / "worker-stderr.txt"
    cmd = [sys.executable, "-m", "bench.worker", mode, "--work", str(work), "--out", str(out), *options]
    with errors.open("w") as err:
        proc = subprocess.Popen(
            cmd, cwd=REPO_ROOT, env=child_env(work), stdin=subprocess.DEVNULL, stdout=err, stderr=err
        )
        code, rss = wait_child(proc)
    if code != 0:
        tail = errors.read_text(errors="replace").strip().splitlines()[-1:] or ["no output"]
        return {"error": f"exit {code}: {tail[0][:150]}"}
    result = json.loads(out.read_text(encoding="utf-8"))
    if isinstance(result, dict):
        result["peak_rss_kib"] = result.pop("vm_hwm_kib", None) or rss
    return result


def ask_command(corpus: Path, index: Path) -> list[str]:
    return [
        sys.executable,
        "run_bot.py",
        "ask",
        "--json",
        "--top-k",
        str(TOP_K),
        "--corpus",
        str(corpus),
        "--index",
        str(index),
    ]


def feed(stream: Any, questions: list[corpora.Question]) -> None:
    """Write every question as its own conversation (a blank line after each), then close stdin."""
    try:
        for q in questions:
            stream.write(q.text + "\n\n")
        stream.close()
    except BrokenPipeError:
        pass


def ask_batch(corpus: Path, work: Path, questions: list[corpora.Question]) -> dict[str, Any]:
    """One `ask --json` process fed all questions: per-question gaps, total / N, peak RSS."""
    started = time.perf_counter()
    with (work / "ask-stderr.txt").open("w") as err:
        proc = subprocess.Popen(
            ask_command(corpus, work / "index"),
            cwd=REPO_ROOT,
            env=child_env(work),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=err,
            text=True,
            encoding="utf-8",
        )
        writer = threading.Thread(target=feed, args=(proc.stdin, questions), daemon=True)
        writer.start()
        stamps, answered = [], []
        for line in proc.stdout:  # type: ignore[union-attr]
            stamps.append(time.perf_counter())
            answered.append(bool(json.loads(line).get("results")))
        writer.join()
        code, rss = wait_child(proc)
    total = time.perf_counter() - started
    if code != 0 or len(stamps) != len(questions):
        return {"error": f"exit {code}, {len(stamps)} answers to {len(questions)} questions (see ask-stderr.txt)"}
    latency: dict[str, list[float]] = {}
    hits: dict[str, int] = {}
    for i, q in enumerate(questions):
        hits[q.kind] = hits.get(q.kind, 0) + answered[i]
        if i:
            latency.setdefault(q.kind, []).append((stamps[i] - stamps[i - 1]) * 1000)
    return {
        "latency_ms": latency,
        "answered": hits,
        "total_s": total,
        "per_question_ms": total * 1000 / len(questions),
        "peak_rss_kib": rss,
    }


def cold_ask(corpus: Path, work: Path, question: str) -> tuple[float, int]:
    """Wall time and peak RSS of one `ask --json` process answering one question."""
    started = time.perf_counter()
    proc = subprocess.Popen(
        [*ask_command(corpus, work / "index"), question],
        cwd=REPO_ROOT,
        env=child_env(work),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    code, rss = wait_child(proc)
    if code != 0:
        raise RuntimeError(f"ask exited with {code}")
    return time.perf_counter() - started, rss


def bot_rows(
    systems: list[str], corpus: Path, work: Path, qfile: Path, questions: list[corpora.Question], built: dict[str, Any]
) -> tuple[list[dict[str, Any]], list[str]]:
    """The rows for this bot (in process, ask --json) and their notes."""
    rows: list[dict[str, Any]] = []
    notes = [f"bot build process peak RSS: {built['peak_rss_kib'] / 1024:.0f} MiB"]
    notes.append(
        f"bot build: answers by words after {built['words_build_s']:.2f} s, "
        f"vectors ready after {built['build_s']:.1f} s; re-index 1 article: "
        f"by words after {built['reindex_words_s']:.2f} s, vectors after {built['reindex_s']:.2f} s"
    )
    if built.get("model_passages_per_s"):
        rate = built["model_passages_per_s"]
        notes.append(
            f"the sentence model alone encodes {rate:.1f} passages/s here: the floor of the vectors is "
            f"{built['passages'] / rate:.0f} s for these {built['passages']:,} passages "
            "(less when copies repeat text: vectors are cached by content)"
        )
    if "bot" in systems:
        log("bot in process: answering")
        served = run_worker("bot", work, ["--corpus", str(corpus), "--questions", str(qfile)])
        rows.append(
            {
                "system": LABELS["bot"],
                **{k: built[k] for k in ("build_s", "reindex_s", "reindex_kind", "disk_bytes")},
                **served,
            }
        )
        if "load_s" in served:
            notes.append(f"bot in process: Engine.open took {served['load_s']:.2f} s")
    if "ask" in systems:
        log("bot ask --json: one process for all questions, then one cold start")
        batch = ask_batch(corpus, work, questions)
        try:
            cold, cold_rss = cold_ask(corpus, work, questions[0].text)
            batch["cold_start_s"] = cold
            notes.append(f"cold ask: one question, peak RSS {cold_rss / 1024:.0f} MiB")
        except RuntimeError as error:
            notes.append(f"cold ask failed: {error}")
        rows.append({"system": LABELS["ask"], **batch})
        if "total_s" in batch:
            notes.append(
                f"ask --json: {len(questions)} questions in {batch['total_s']:.2f} s = {batch['per_question_ms']:.1f} "
                "ms per question, start-up included"
            )
    return rows, notes


def run_size(
    label: str,
    target: int,
    systems: list[str],
    root: Path,
    articles: list[Path],
    counts: dict[str, int],
    questions: list[corpora.Question],
    qfile: Path,
) -> dict[str, Any]:
    """Build the corpus of one size and run every selected system on it."""
    work = root / label
    corpus = work / "corpus"
    plan = corpora.plan_corpus(articles, counts, target)
    corpora.write_corpus(plan, corpus)
    changed = plan[0][1]
    passages = work / "passages.jsonl"
    log(f"{label}: {len(plan)} articles; building the bot's index")
    built = run_worker("bot-build", work, ["--corpus", str(corpus), "--changed", changed, "--passages", str(passages)])
    if "error" in built:
        raise RuntimeError(f"the bot's build failed at {label}: {built['error']}")
    info = {
        "passages": built["passages"],
        "articles": len(plan),
        "copies": sum(1 for p, n in plan if p.name != n),
        "words": built["words"],
    }
    rows, notes = bot_rows(systems, corpus, work, qfile, questions, built)
    for name in (s for s in systems if s in PEERS):
        log(f"{label}: {LABELS[name]}")
        result = run_worker(
            "peer", work, ["--name", name, "--passages", str(passages), "--questions", str(qfile), "--changed", changed]
        )
        rows.append({**result, "system": LABELS[name]})
    return {"label": label, "target": target, "corpus": info, "systems": rows, "notes": notes}


def positive(value: str) -> int:
    """An argparse type: a whole number of at least 1."""
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return number


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--sizes", default="1k,10k", help="passage targets, comma-separated (default 1k,10k; 100k takes many minutes)"
    )
    parser.add_argument(
        "--questions", type=positive, default=None, help="at most N short and N long questions (default: all, 300 + 52)"
    )
    parser.add_argument(
        "--systems", default=",".join(ALL_SYSTEMS), help=f"comma-separated subset of {','.join(ALL_SYSTEMS)}"
    )
    parser.add_argument("--json", type=Path, default=None, help="also write every figure to this JSON file")
    args = parser.parse_args(argv)
    args.systems = [s.strip() for s in args.systems.split(",") if s.strip()]
    unknown = [s for s in args.systems if s not in ALL_SYSTEMS]
    if unknown:
        parser.error(f"unknown system(s): {', '.join(unknown)}; choose from {', '.join(ALL_SYSTEMS)}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    data = corpora.benchmarks_dir()
    missing = corpora.missing_inputs(data)
    if missing:
        print(
            f"bench skipped: the shared MedQuAD benchmark is not at {data} (missing: {', '.join(missing)}). "
            "Set BOT_BENCHMARKS_DIR to its folder."
        )
        return 0
    sizes = [(s.strip(), corpora.parse_size(s)) for s in args.sizes.split(",") if s.strip()]
    info = report.machine()
    print(report.header(info), flush=True)
    questions = corpora.load_questions(data, args.questions)
    kinds = {k: sum(1 for q in questions if q.kind == k) for k in ("short", "long")}
    print(
        f"questions: {kinds['short']} short (MedQuAD dev 'question'), {kinds['long']} long (LiveQA dev 'original'); "
        f"top {TOP_K}",
        flush=True,
    )
    results: dict[str, Any] = {"machine": info, "questions": kinds, "sizes": []}
    with tempfile.TemporaryDirectory(prefix="bot-bench-") as tmp:
        root = Path(tmp)
        qfile = root / "questions.json"
        qfile.write_text(json.dumps([asdict(q) for q in questions]), encoding="utf-8")
        articles = corpora.source_articles(data)
        log(f"counting the bot's passages in {len(articles)} shared articles (one build)")
        counts = run_worker("count", root, [])
        if "error" in counts:
            raise SystemExit(f"bench: counting passages failed: {counts['error']}")
        counts.pop("peak_rss_kib", None)
        for label, target in sizes:
            size = run_size(label, target, args.systems, root, articles, counts, questions, qfile)
            results["sizes"].append(size)
            print(report.size_block(size), flush=True)
    info["load_average_end"] = report.load_average()
    print(
        f"\nload average at the end: {info['load_average_end']}; this driver's own peak RSS "
        f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB (the floor of any child's ru_maxrss)"
    )
    print(report.LEGEND)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2), encoding="utf-8")
        print(f"figures written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
