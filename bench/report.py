"""The machine description and the plain-text results table."""

from __future__ import annotations

import os
import platform
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

MIB = 1024 * 1024


def cpu_model() -> str:
    """The CPU model name from /proc/cpuinfo, or the platform's guess."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def ram_gib() -> float | None:
    """MemTotal from /proc/meminfo, in GiB."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) / 1024 / 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def load_average() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "n/a"


def version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def machine() -> dict[str, Any]:
    """What the numbers were measured on."""
    import sqlite3

    ram = ram_gib()
    return {
        "nproc": os.cpu_count(),
        "cpu": cpu_model(),
        "ram_gib": round(ram, 1) if ram else None,
        "python": sys.version.split()[0],
        "sqlite": sqlite3.sqlite_version,
        "packages": {p: version(p) for p in ("rank-bm25", "bm25s", "tantivy", "numpy")},
        "load_average_start": load_average(),
    }


def header(info: dict[str, Any]) -> str:
    """The lines printed above the table."""
    packages = ", ".join(f"{k} {v}" for k, v in info["packages"].items())
    ram = f"{info['ram_gib']} GiB RAM" if info["ram_gib"] else "RAM unknown"
    return "\n".join(
        [
            f"machine: {info['nproc']} CPUs ({info['cpu']}), {ram}; load average at start {info['load_average_start']}",
            f"python {info['python']}, SQLite {info['sqlite']}, {packages}",
            (
                "Pure timing, no quality check. "
                "Numbers from a busy machine are loose: compare across a row, not across runs."
            ),
        ]
    )


def percentile(values: list[float], q: float) -> float:
    """Linear-interpolated percentile, q in [0, 1]."""
    ordered = sorted(values)
    k = (len(ordered) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def ms(value: float) -> str:
    """A latency in ms with a precision that suits its size."""
    if value >= 100:
        return f"{value:.0f}"
    if value >= 10:
        return f"{value:.1f}"
    if value >= 1:
        return f"{value:.2f}"
    return f"{value:.3f}"


def spread(latencies: list[float] | None) -> str:
    """'p50 / p95 / max' in ms."""
    if not latencies:
        return "-"
    return " / ".join(ms(v) for v in (percentile(latencies, 0.5), percentile(latencies, 0.95), max(latencies)))


def seconds(value: float | None) -> str:
    if value is None:
        return "-"
    if value < 1:
        return f"{value:.3f}"
    return f"{value:.2f}" if value < 100 else f"{value:.0f}"


COLUMNS = (
    "system",
    "build s",
    "words/s",
    "re-index 1 article s",
    "short p50/p95/max ms",
    "long p50/p95/max ms",
    "answered",
    "cold ask s",
    "peak RSS MiB",
    "disk MiB",
)


def row_cells(row: dict[str, Any], words: int) -> list[str]:
    """One table row from a system's figures."""
    if row.get("error"):
        return [row["system"], f"failed: {row['error']}"] + [""] * (len(COLUMNS) - 2)
    build = row.get("build_s")
    reindex = row.get("reindex_s")
    kind = row.get("reindex_kind")
    latency = row.get("latency_ms", {})
    answered = row.get("answered", {})
    asked = sum(len(v) for v in latency.values())
    disk = row.get("disk_bytes")
    return [
        row["system"],
        seconds(build),
        f"{words / build:,.0f}" if build else "-",
        f"{seconds(reindex)} ({kind})" if reindex is not None else "-",
        spread(latency.get("short")),
        spread(latency.get("long")),
        f"{100 * sum(answered.values()) / asked:.0f}%" if asked else "-",
        seconds(row.get("cold_start_s")),
        f"{row['peak_rss_kib'] / 1024:.0f}" if row.get("peak_rss_kib") else "-",
        f"{disk / MIB:.1f}" if disk is not None else "n/a (in memory)" if "build_s" in row else "-",
    ]


def table(rows: list[list[str]]) -> str:
    """Columns padded to their widest cell."""
    all_rows = [list(COLUMNS), *rows]
    widths = [max(len(r[i]) for r in all_rows) for i in range(len(COLUMNS))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(r, widths)).rstrip() for r in all_rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def size_block(size: dict[str, Any]) -> str:
    """The heading, table and notes of one corpus size."""
    corpus = size["corpus"]
    lines = [
        "",
        f"== {size['label']}: {corpus['passages']:,} passages, {corpus['articles']:,} articles "
        f"({corpus['copies']:,} of them renamed copies), {corpus['words']:,} words of passage text ==",
        table([row_cells(r, corpus["words"]) for r in size["systems"]]),
    ]
    lines += [f"  {note}" for note in size.get("notes", [])]
    return "\n".join(lines)


LEGEND = """\
Legend:
- build s: full index build, wall time. The bot's is build_index() on the corpus folder (read, parse, split,
  tokenise, write JSON). rank-bm25 and bm25s: tokenising the bot's passages with bot.text.terms plus fitting,
  in memory. tantivy and FTS5: adding the passage text and committing to disk. words/s = passage words / build s.
- re-index 1 article: one article gets one more sentence. The bot runs build_index() again on the corpus
  (whatever that does: a full rebuild, or less if it caches unchanged articles). tantivy and FTS5 delete that
  article's passages and add the new ones ("incremental"). rank-bm25 and bm25s cannot update in place: a timed
  full rebuild, tokenising included ("full").
- hybrid anchor: bm25s over the bot's tokens, plus the question encoded with the bot's sentence model, plus one
  dot product over all the bot's passage vectors (read from its index, so its build s excludes encoding; the
  model's own encoding rate is in the notes). Its re-index rebuilds bm25s only.
- short = MedQuAD dev questions, long = LiveQA consumer questions as sent ("original"); per-question wall time,
  top 10, one untimed warm-up question first. The bot in process = Engine.answer(q, None, limit=10), rendering
  excluded; tokenising the question is included for every system. "ask --json" = one `run_bot.py ask --json
  --top-k 10` process fed all questions on stdin (each its own conversation); a question's time is the gap
  between consecutive output lines, so the first question (and start-up) is not in its percentiles; the
  total / N figure, start-up included, is in the notes. answered = questions with at least one result (the bot
  refuses off-topic questions; the peers return anything that shares a word).
- cold ask: one `run_bot.py ask --json` process with one question, wall time, index already built, page cache warm.
- peak RSS: of the system's own process: VmHWM from its /proc/self/status at the end (the ask processes, which
  cannot report it: ru_maxrss from os.wait4). It holds Python, the bot's modules where the system tokenises with
  them, the passages, the index and the queries. For the bot in process: Engine.open + answers, no build.
- corpora: above the shared articles' own passage count (about 5.3k) the extra passages are renamed copies, so
  text repeats: caches keyed by word or by content hit more often than on a real corpus of that size.
- disk: the bot's index folder; tantivy's index folder; the FTS5 database file; bm25s saved with .save()
  afterwards (not part of build s); rank-bm25 keeps nothing on disk."""
