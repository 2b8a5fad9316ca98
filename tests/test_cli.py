"""run_bot.py as a subprocess: reindex, ask (argument and stdin protocol), repl, eval, stats.

Every run gets BOT_CORPUS_DIR / BOT_INDEX_DIR / BOT_DATA_DIR inside tmp_path, so the repository's
own index/ and data/ are never touched. PYTHONIOENCODING=utf-8 makes stdin strict UTF-8, as on a
typical desktop locale, so undecodable input is really exercised.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot.builder import build_index
from bot.index_store import MANIFEST, read_manifest
from bot.questionlog import QuestionLog

from conftest import REPO_ROOT, copy_seed_corpus, settings_in

FIXTURES = Path(__file__).parent / "fixtures" / "articles"
K2_QUESTION = "what foods have K2?"
FIXTURE_ARTICLES = REPO_ROOT / "tests" / "fixtures" / "articles"


@dataclass
class Run:
    returncode: int
    stdout: str
    stderr: str

    def json_lines(self) -> list[dict]:
        return [json.loads(line) for line in self.stdout.splitlines() if line.strip()]


@dataclass
class Dirs:
    corpus: Path
    index: Path
    data: Path

    def env(self, **extra: str | None) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("BOT_", "TELEGRAM_")) and k != "ADMIN_IDS"}
        env.update(BOT_CORPUS_DIR=str(self.corpus), BOT_INDEX_DIR=str(self.index), BOT_DATA_DIR=str(self.data))
        env["PYTHONIOENCODING"] = "utf-8"
        for key, value in extra.items():
            if value is None:
                env.pop(key, None)
            else:
                env[key] = value
        return env

    def settings(self):  # type: ignore[no-untyped-def]
        return settings_in(self.corpus.parent, corpus_dir=self.corpus)


def run_bot(dirs: Dirs, *args: str, input: bytes | str | None = None, timeout: float = 60, **env: str | None) -> Run:
    data = input.encode("utf-8") if isinstance(input, str) else input
    proc = subprocess.run(
        [sys.executable, "run_bot.py", *args],
        cwd=REPO_ROOT,
        env=dirs.env(**env),
        input=data if data is not None else b"",
        capture_output=True,
        timeout=timeout,
    )
    run = Run(proc.returncode, proc.stdout.decode("utf-8"), proc.stderr.decode("utf-8", errors="replace"))
    assert "Traceback" not in run.stderr, run.stderr
    assert "Traceback" not in run.stdout, run.stdout
    return run


def make_dirs(root: Path) -> Dirs:
    corpus = copy_seed_corpus(root)
    return Dirs(corpus, root / "index", root / "data")


@pytest.fixture
def dirs(tmp_path: Path) -> Dirs:
    return make_dirs(tmp_path)


@pytest.fixture
def built_dirs(dirs: Dirs) -> Dirs:
    build_index(dirs.settings())
    return dirs


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Dirs:
    """A built seed index for the tests that only read it."""
    dirs = make_dirs(tmp_path_factory.mktemp("cli-shared"))
    build_index(dirs.settings())
    return dirs


# ----- reindex -------------------------------------------------------------------------------
def summary_numbers(text: str) -> tuple[int, int, float]:
    articles = re.search(r"(\d+) article", text)
    passages = re.search(r"(\d+) passages", text)
    seconds = re.search(r"(\d+(?:\.\d+)?) ?s\b", text)
    assert articles and passages and seconds, text
    return int(articles.group(1)), int(passages.group(1)), float(seconds.group(1))


def test_reindex_summary_and_changes(dirs: Dirs) -> None:
    first = run_bot(dirs, "reindex")
    assert first.returncode == 0, first.stderr
    articles, passages, seconds = summary_numbers(first.stdout)
    assert articles == 1 and passages > 10 and seconds < 30
    assert (dirs.index / MANIFEST).is_file()

    again = run_bot(dirs, "reindex")
    assert again.returncode == 0
    assert re.search(r"no article changed", again.stdout, re.IGNORECASE), again.stdout
    assert summary_numbers(again.stdout)[:2] == (1, passages)

    article = dirs.corpus / "sleep-hygiene.md"
    shutil.copy(FIXTURES / "sleep-hygiene.md", article)
    added = run_bot(dirs, "reindex")
    assert added.returncode == 0
    assert re.search(r"added:.*sleep-hygiene\.md", added.stdout, re.IGNORECASE), added.stdout
    more_articles, more_passages, _ = summary_numbers(added.stdout)
    assert more_articles == 2 and more_passages > passages
    assert f"+{more_passages - passages}" in added.stdout  # the passage delta

    article.write_text(article.read_text(encoding="utf-8") + "\n## Extra Notes\n\nA new paragraph about bedtime stories.\n", encoding="utf-8")
    changed = run_bot(dirs, "reindex")
    assert changed.returncode == 0
    assert re.search(r"changed:.*sleep-hygiene\.md", changed.stdout, re.IGNORECASE), changed.stdout
    assert "added:" not in changed.stdout.lower()

    article.unlink()
    removed = run_bot(dirs, "reindex")
    assert removed.returncode == 0
    assert re.search(r"removed:.*sleep-hygiene\.md", removed.stdout, re.IGNORECASE), removed.stdout
    assert summary_numbers(removed.stdout)[:2] == (1, passages)


def test_reindex_with_broken_files_keeps_previous_index(built_dirs: Dirs) -> None:
    dirs = built_dirs
    before = read_manifest(dirs.index)["build_id"]
    (dirs.corpus / "empty.txt").write_bytes(b"")
    (dirs.corpus / "binary.txt").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00")
    (dirs.corpus / "latin1.md").write_bytes("# Caf\xe9\n\nCr\xe8me br\xfbl\xe9e recipe.".encode("latin-1"))
    (dirs.corpus / "huge.txt").write_bytes(b"Title\n\n" + b"word " * 40_000)
    result = run_bot(dirs, "reindex", BOT_MAX_ARTICLE_BYTES="100000")
    assert result.returncode != 0
    for name, problem in (("empty.txt", "empty"), ("binary.txt", "binary"), ("latin1.md", "UTF-8"), ("huge.txt", "limit")):
        line = next((line for line in result.stderr.splitlines() if name in line), "")
        assert problem.lower() in line.lower(), (name, result.stderr)
    assert "Indexed" not in result.stdout
    assert read_manifest(dirs.index)["build_id"] == before

    # the previous index still answers (ask tries to rebuild, fails, and keeps serving)
    ask = run_bot(dirs, "ask", "--json", K2_QUESTION)
    assert ask.returncode == 0
    assert "Natto" in ask.json_lines()[0]["results"][0]["text"]
    assert read_manifest(dirs.index)["build_id"] == before


def test_missing_corpus_dir(tmp_path: Path) -> None:
    dirs = Dirs(tmp_path / "no-such-corpus", tmp_path / "index", tmp_path / "data")
    result = run_bot(dirs, "reindex")
    assert result.returncode != 0
    assert "not found" in result.stderr and "no-such-corpus" in result.stderr
    ask = run_bot(dirs, "ask", K2_QUESTION)
    assert ask.returncode != 0
    assert "no-such-corpus" in ask.stderr


def test_empty_corpus(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    shutil.copy(REPO_ROOT / "corpus" / "synonyms.conf", corpus)
    (corpus / ".hidden.txt").write_text("Hidden\n\nNot an article.\n", encoding="utf-8")
    (corpus / "notes.pdf").write_bytes(b"%PDF-1.4")
    dirs = Dirs(corpus, tmp_path / "index", tmp_path / "data")
    result = run_bot(dirs, "reindex")
    assert result.returncode != 0
    assert "no articles" in result.stderr.lower()
    assert not (dirs.index / MANIFEST).exists()


# ----- ask -----------------------------------------------------------------------------------
def test_ask_json_one_question(shared: Dirs) -> None:
    result = run_bot(shared, "ask", "--json", K2_QUESTION)
    assert result.returncode == 0
    objects = result.json_lines()
    assert len(objects) == 1
    obj = objects[0]
    assert {"question", "query", "results"} <= set(obj)
    assert obj["question"] == K2_QUESTION
    assert isinstance(obj["query"], str) and "k2" in obj["query"].lower()
    top = obj["results"][0]
    assert "Natto" in top["text"]
    assert "dietary sources" in top["section"].lower()
    assert isinstance(top["answer"], str) and top["answer"]
    assert isinstance(top["score"], float) and top["score"] > 0
    assert isinstance(top["article"], str) and "K2" in top["article"]
    assert 1 <= len(obj["results"]) <= 3  # default top-k


def test_ask_top_k_and_plain_text(shared: Dirs) -> None:
    one = run_bot(shared, "ask", "--json", "--top-k", "1", K2_QUESTION)
    assert one.returncode == 0
    assert len(one.json_lines()[0]["results"]) == 1

    plain = run_bot(shared, "ask", "--top-k", "1", "what", "foods", "have", "K2?")  # words as separate arguments
    assert plain.returncode == 0
    assert not plain.stdout.lstrip().startswith("{")
    assert "Dietary Sources of K2 and D3" in plain.stdout and "Natto" in plain.stdout
    assert "[2]" not in plain.stdout


def test_ask_builds_missing_index(dirs: Dirs) -> None:
    result = run_bot(dirs, "ask", "--json", K2_QUESTION)
    assert result.returncode == 0
    assert "building" in result.stderr.lower()
    assert "Natto" in result.json_lines()[0]["results"][0]["text"]
    assert (dirs.index / MANIFEST).is_file()


def test_ask_with_another_corpus_and_index(dirs: Dirs, tmp_path: Path) -> None:
    """--corpus and --index together answer from that corpus and leave the default index alone."""
    other = tmp_path / "other"
    (other / "corpus").mkdir(parents=True)
    shutil.copy(FIXTURE_ARTICLES / "sleep-hygiene.md", other / "corpus")
    result = run_bot(dirs, "ask", "--json", "--corpus", str(other / "corpus"), "--index", str(other / "index"), "how long should a nap be")
    assert result.returncode == 0, result.stderr
    assert result.json_lines()[0]["results"][0]["source"] == "sleep-hygiene.md"
    again = run_bot(dirs, "ask", "--json", "--corpus", str(other / "corpus"), "--index", str(other / "index"), "nap")
    assert "rebuilding" not in again.stderr and "building" not in again.stderr.lower()
    assert not (dirs.index / MANIFEST).exists()


def test_ask_stdin_conversations(shared: Dirs) -> None:
    lines = [K2_QUESTION, "and d3?", "how much k2 daily", "", "and d3?"]
    result = run_bot(shared, "ask", "--json", input="\n".join(lines) + "\n")
    assert result.returncode == 0
    objects = result.json_lines()
    assert len(objects) == 4
    assert [o["question"] for o in objects] == [K2_QUESTION, "and d3?", "how much k2 daily", "and d3?"]
    follow, fresh = objects[1], objects[3]
    assert "k2" in follow["query"].lower() or "food" in follow["query"].lower()  # carried context
    assert "Fatty fish" in follow["results"][0]["text"]
    assert "k2" not in fresh["query"].lower() and "food" not in fresh["query"].lower()  # new conversation
    assert follow["query"] != fresh["query"]
    assert "45-180 mcg" in objects[2]["results"][0]["text"] or "45-180 mcg" in objects[2]["results"][0]["answer"]


@pytest.mark.parametrize("encoding", ["utf-8", None], ids=["strict-utf8-stdin", "default-stdin"])
def test_ask_stdin_bad_inputs(shared: Dirs, encoding: str | None) -> None:
    data = b"".join(
        [
            b"\n",
            b"   \t \n",
            b"x" * 100_000 + b"\n",
            b"\xff\xfe\x00\x01\x80junk\xc3\x28 \x1b[2J\n",
            b"<script>alert('hi')</script> & <b>\n",
            b"the of and\n",
            b"\n",
            K2_QUESTION.encode() + b"\r\n",
        ]
    )
    result = run_bot(shared, "ask", "--json", input=data, PYTHONIOENCODING=encoding)
    assert result.returncode == 0
    objects = result.json_lines()
    assert len(objects) == 5
    for obj in objects[:4]:
        assert obj["results"] == [], obj
        assert obj.get("message"), obj
    assert objects[2]["question"].startswith("<script>")
    assert objects[4]["question"] == K2_QUESTION
    assert "Natto" in objects[4]["results"][0]["text"]


def test_ask_plain_text_bad_inputs(shared: Dirs) -> None:
    result = run_bot(shared, "ask", input=b"\x00\x01\xff\n" + b"y" * 100_000 + b"\n<script>\n")
    assert result.returncode == 0
    assert result.stdout.strip()


# ----- repl ----------------------------------------------------------------------------------
def test_repl_over_a_pipe(shared: Dirs) -> None:
    script = "\n".join(["help", K2_QUESTION, "more", "sources", "reset", "and d3?"] + ["more"] * 5 + [""])
    result = run_bot(shared, "repl", input=script)
    assert result.returncode == 0
    out = result.stdout
    assert "sources" in out and "reset" in out and "more" in out  # the help text
    assert "Natto" in out
    assert "[1] Dietary Sources of K2 and D3" in out
    assert "[4]" in out  # `more` showed the next page
    assert "Understanding Bone Health" in out and "Conclusion" in out  # `sources`
    assert "reset" in out.lower()
    after_reset = out[out.lower().rindex("reset") :]
    assert "follow-up" not in after_reset  # context was forgotten
    assert "No more results" in out  # paging past the end is explained
    assert "> " not in out.splitlines()[0]  # no prompt noise on a pipe


def test_repl_eof_and_junk(shared: Dirs) -> None:
    assert run_bot(shared, "repl", input=b"").returncode == 0  # Ctrl-D straight away
    junk = b"\xff\xfe\x00\x01 junk\n" + b"z" * 100_000 + b"\n<script>alert(1)</script>\nthe of and\nquit\nnever read\n"
    result = run_bot(shared, "repl", input=junk)
    assert result.returncode == 0
    assert "Nothing in the articles" in result.stdout or "Please type a question" in result.stdout


# ----- eval and stats ------------------------------------------------------------------------
def test_eval_quiet(shared: Dirs) -> None:
    result = run_bot(shared, "eval", "--quiet", str(REPO_ROOT / "tests" / "eval" / "dev.jsonl"))
    assert result.returncode == 0, result.stderr
    hit1 = re.search(r"hit@1:\s*([\d.]+)", result.stdout)
    hit3 = re.search(r"hit@3:\s*([\d.]+)", result.stdout)
    assert hit1 and hit3, result.stdout
    assert 0.0 < float(hit1.group(1)) <= float(hit3.group(1)) <= 1.0
    assert "misses" not in result.stdout


def test_eval_bad_file(shared: Dirs, tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"question": "x"}\nnot json\n', encoding="utf-8")
    result = run_bot(shared, "eval", str(bad))
    assert result.returncode != 0
    assert "bad.jsonl" in result.stderr


def test_stats_report(dirs: Dirs) -> None:
    log = QuestionLog.default(dirs.settings())
    qid = log.record_question(42, K2_QUESTION, True, "Dietary Sources of K2 and D3")
    log.record_question(42, "capital of australia", False, "")
    log.record_question(7, "Capital of Australia ", False, "")
    log.record_feedback(qid, 42, 1)
    result = run_bot(dirs, "stats")
    assert result.returncode == 0
    assert re.search(r"Questions .*: 3", result.stdout), result.stdout
    assert re.search(r"Answered: 1\b", result.stdout)
    assert "2× capital of australia" in result.stdout
    assert "👍 1" in result.stdout
    empty = run_bot(Dirs(dirs.corpus, dirs.index, dirs.data.parent / "other-data"), "stats", "--days", "0")
    assert empty.returncode == 0 and re.search(r"Questions .*: 0", empty.stdout)


# ----- corrupt index -------------------------------------------------------------------------
@pytest.mark.parametrize("damage", ["garbage-manifest", "modified-data"])
def test_ask_with_corrupt_index(built_dirs: Dirs, damage: str) -> None:
    dirs = built_dirs
    if damage == "garbage-manifest":
        (dirs.index / MANIFEST).write_bytes(b"\x00garbage{{{")
    else:
        manifest = read_manifest(dirs.index)
        path = dirs.index / manifest["build_dir"] / "passages.jsonl"
        path.write_text(path.read_text(encoding="utf-8").replace("Natto", "Nutto"), encoding="utf-8")
    result = run_bot(dirs, "ask", "--json", K2_QUESTION)
    if result.returncode == 0:
        assert "Natto" in result.json_lines()[0]["results"][0]["text"]  # rebuilt
        assert "rebuild" in result.stderr.lower()
    else:
        assert "reindex" in result.stderr


def test_reader_closing_the_pipe_is_not_a_crash(shared: Dirs) -> None:
    """`run_bot.py ask < questions | head -1`: when stdout's reader goes away, stop quietly."""
    proc = subprocess.Popen(
        [sys.executable, "run_bot.py", "ask", "--json"],
        cwd=REPO_ROOT,
        env=shared.env(),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdin and proc.stdout and proc.stderr
    proc.stdin.write(K2_QUESTION.encode() + b"\n")
    proc.stdin.flush()
    first = json.loads(proc.stdout.readline())
    assert "Natto" in first["results"][0]["text"]
    proc.stdout.close()  # the reader is gone
    proc.stdin.write((K2_QUESTION + "\n").encode() * 50)
    proc.stdin.close()
    stderr = proc.stderr.read().decode("utf-8", errors="replace")
    proc.wait(timeout=30)
    assert "Traceback" not in stderr, stderr
    assert "BrokenPipeError" not in stderr, stderr
