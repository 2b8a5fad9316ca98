"""The command line: reindex, ask (argument and stdin protocol), repl, eval, stats.

Most tests run run_bot.py as a subprocess; the newer ones call bot.cli.main() in-process (with
capsys and env_dirs) where a subprocess adds nothing, and the installed `article-qa` script is run once.
Every run gets BOT_CORPUS_DIR / BOT_INDEX_DIR / BOT_DATA_DIR inside tmp_path, so the repository's
own index/ and data/ are never touched. PYTHONIOENCODING=utf-8 makes stdin strict UTF-8, as on a
typical desktop locale, so undecodable input is really exercised.
"""

from __future__ import annotations

import io
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import sysconfig
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import REPO_ROOT, copy_seed_corpus, copy_seed_index, settings_in

from bot.answers import Result
from bot.builder import build_index
from bot.cli import MAX_TOP_K, build_parser, main, progress_printer, vector_progress_printer
from bot.index_store import MANIFEST, read_manifest
from bot.questionlog import QuestionLog
from bot.render_text import BOLD, RESET, format_result

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
        env["BOT_SEMANTIC"] = "off"  # the command line, not the sentence model, is under test here
        env["PYTHONIOENCODING"] = "utf-8"
        for key, value in extra.items():
            if value is None:
                env.pop(key, None)
            else:
                env[key] = value
        return env

    def settings(self):  # type: ignore[no-untyped-def]
        return settings_in(self.corpus.parent, corpus_dir=self.corpus, semantic=False)


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
def built_dirs(dirs: Dirs, seed_build_words: Path) -> Dirs:
    copy_seed_index(seed_build_words, dirs.index)
    return dirs


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory, seed_build_words: Path) -> Dirs:
    """A built seed index for the tests that only read it."""
    dirs = make_dirs(tmp_path_factory.mktemp("cli-shared"))
    copy_seed_index(seed_build_words, dirs.index)
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

    article.write_text(
        article.read_text(encoding="utf-8") + "\n## Extra Notes\n\nA new paragraph about bedtime stories.\n",
        encoding="utf-8",
    )
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
    for name, problem in (
        ("empty.txt", "empty"),
        ("binary.txt", "binary"),
        ("latin1.md", "UTF-8"),
        ("huge.txt", "limit"),
    ):
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
    assert "does not exist" in result.stderr and "no-such-corpus" in result.stderr
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
    result = run_bot(
        dirs,
        "ask",
        "--json",
        "--corpus",
        str(other / "corpus"),
        "--index",
        str(other / "index"),
        "how long should a nap be",
    )
    assert result.returncode == 0, result.stderr
    assert result.json_lines()[0]["results"][0]["source"] == "sleep-hygiene.md"
    again = run_bot(dirs, "ask", "--json", "--corpus", str(other / "corpus"), "--index", str(other / "index"), "nap")
    assert "rebuilding" not in again.stderr and "building" not in again.stderr.lower()
    assert not (dirs.index / MANIFEST).exists()


def test_an_index_given_alone_answers_from_the_corpus_it_was_built_from(dirs: Dirs, tmp_path: Path) -> None:
    """`ask --index X` (or BOT_INDEX_DIR=X) on an index built from another corpus must not rebuild X from corpus/."""
    other = tmp_path / "other"
    (other / "corpus").mkdir(parents=True)
    shutil.copy(FIXTURE_ARTICLES / "sleep-hygiene.md", other / "corpus")
    built = run_bot(dirs, "reindex", "--corpus", str(other / "corpus"), "--index", str(other / "index"))
    assert built.returncode == 0, built.stderr
    build_id = read_manifest(other / "index")["build_id"]
    for extra_env in ({"BOT_CORPUS_DIR": None}, {"BOT_CORPUS_DIR": None, "BOT_INDEX_DIR": str(other / "index")}):
        args = (
            ["ask", "--json", "how long should a nap be"]
            if "BOT_INDEX_DIR" in extra_env
            else ["ask", "--json", "--index", str(other / "index"), "how long should a nap be"]
        )
        result = run_bot(dirs, *args, **extra_env)
        assert result.returncode == 0, result.stderr
        assert result.json_lines()[0]["results"][0]["source"] == "sleep-hygiene.md"
        assert "building" not in result.stderr.lower()
    assert read_manifest(other / "index")["build_id"] == build_id  # X was not rebuilt


def test_an_index_whose_corpus_has_gone_keeps_serving_and_is_not_rebuilt_from_another(
    dirs: Dirs, tmp_path: Path
) -> None:
    """The recorded corpus folder was moved: the index used to be rebuilt from corpus/, replacing its articles."""
    other = tmp_path / "other"
    (other / "corpus").mkdir(parents=True)
    shutil.copy(FIXTURE_ARTICLES / "sleep-hygiene.md", other / "corpus")
    assert run_bot(dirs, "reindex", "--corpus", str(other / "corpus"), "--index", str(other / "index")).returncode == 0
    build_id = read_manifest(other / "index")["build_id"]
    (other / "corpus").rename(other / "moved")
    result = run_bot(
        dirs, "ask", "--json", "--index", str(other / "index"), "how long should a nap be", BOT_CORPUS_DIR=None
    )
    assert result.returncode == 0, result.stderr
    assert result.json_lines()[0]["results"][0]["source"] == "sleep-hygiene.md"
    assert "corpus directory not found" in result.stderr
    rebuilt = run_bot(dirs, "reindex", "--index", str(other / "index"), BOT_CORPUS_DIR=None)
    assert rebuilt.returncode == 1 and "corpus directory not found" in rebuilt.stderr
    manifest = read_manifest(other / "index")
    assert manifest["build_id"] == build_id and manifest["corpus_dir"] == str(other / "corpus")


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


@pytest.mark.parametrize(
    "line",
    [
        "[1, 2]",
        "null",
        '"hello"',
        '{"question": "k2 foods", "context": [1, 2], "expect_text": ["Natto"]}',
        '{"question": "k2 foods", "expect_text": [1]}',
        '{"question": "how do i sleep better", "expect_text": "Natto"}',
        '{"question": "k2 foods", "expect_section": null}',
        '{"question": "k2 foods", "off_topic": "no"}',
    ],
)
def test_eval_names_a_line_of_the_wrong_shape(line: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Lines that crashed eval, or (a bare string for a list) were read letter by letter and scored as hits."""
    bad = tmp_path / "shapes.jsonl"
    bad.write_text('{"question": "k2 foods", "expect_text": ["Natto"]}\n' + line + "\n", encoding="utf-8")
    assert main(["eval", str(bad)]) == 1
    err = capsys.readouterr().err
    assert "shapes.jsonl:2: not a valid question" in err and "Traceback" not in err


@pytest.mark.parametrize("command", ["ask", "repl"])
def test_a_closed_stdin_is_read_as_empty(shared: Dirs, command: str) -> None:
    """`ask <&-` and `repl <&-` crashed: Python sets sys.stdin to None when file descriptor 0 is closed."""
    proc = subprocess.run(
        ["/bin/sh", "-c", f"exec {shlex.quote(sys.executable)} run_bot.py {command} <&-"],
        cwd=REPO_ROOT,
        env=shared.env(),
        capture_output=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert b"Traceback" not in proc.stderr


def test_control_characters_from_articles_and_file_names_are_shown_not_run(dirs: Dirs) -> None:
    """An escape sequence in a file name, a title or an article's text reached the terminal raw (it can clear the
    screen)."""
    body = (
        "Feed a sourdough starter with flour and water every day. " * 20 + "\x1b[2J\x1b[31mRED\x07 and keep it warm.\n"
    )
    assert run_bot(dirs, "reindex").returncode == 0  # so that the next build lists what was added
    (dirs.corpus / "evil\x1b[41mtitle.md").write_text(body, encoding="utf-8")
    (dirs.corpus / "line\nbreak.md").write_text("# Bread\n\n" + body, encoding="utf-8")
    for args in (
        ("reindex",),
        ("ask", "how often do i feed a sourdough starter"),
        ("ask", "--top-k", "5", "keep the starter warm"),
    ):
        result = run_bot(dirs, *args)
        assert result.returncode == 0, result.stderr
        assert "\x1b" not in result.stdout + result.stderr and "\x07" not in result.stdout
        if args[0] == "reindex":
            assert "evil\\x1b[41mtitle.md" in result.stdout and "line\\x0abreak.md" in result.stdout
        else:
            assert "sourdough" in result.stdout.lower()
    assert "\\x1b[2J" in run_bot(dirs, "ask", "--top-k", "5", "keep the starter warm").stdout


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
    # a data folder with no log (a typo, say) is reported, not silently created as an empty log
    other = dirs.data.parent / "other-data"
    empty = run_bot(Dirs(dirs.corpus, dirs.index, other), "stats", "--days", "0")
    assert empty.returncode == 1 and "no question log" in empty.stderr and "Traceback" not in empty.stderr
    assert not (other / "questions.sqlite3").exists()


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


# ----- the first ten minutes (issue 10): in-process where a subprocess adds nothing -----------
class Tty(io.StringIO):
    """A terminal: isatty() is true."""

    def isatty(self) -> bool:
        return True


@pytest.fixture
def env_dirs(dirs: Dirs, monkeypatch: pytest.MonkeyPatch) -> Dirs:
    """The environment of an in-process cli.main() pointed at tmp_path, as Dirs.env() does for subprocesses."""
    for key in [k for k in os.environ if k.startswith(("BOT_", "TELEGRAM_"))] + ["ADMIN_IDS"]:
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("BOT_CORPUS_DIR", str(dirs.corpus))
    monkeypatch.setenv("BOT_INDEX_DIR", str(dirs.index))
    monkeypatch.setenv("BOT_DATA_DIR", str(dirs.data))
    monkeypatch.setenv("BOT_SEMANTIC", "off")
    return dirs


def console_script() -> Path:
    """The `article-qa` script installed next to this interpreter (the venv's bin/)."""
    found = shutil.which(
        "article-qa", path=os.pathsep.join([sysconfig.get_path("scripts"), str(Path(sys.executable).parent)])
    )
    assert found, f"article-qa is not installed next to {sys.executable}; run `make setup` (pip install -e .)"
    return Path(found)


def test_console_script_runs(shared: Dirs) -> None:
    script = console_script()
    usage = subprocess.run([str(script), "--help"], capture_output=True, text=True, timeout=60, env=shared.env())
    assert usage.returncode == 0, usage.stderr
    assert "article-qa" in usage.stdout and "reindex" in usage.stdout
    ask = subprocess.run(
        [str(script), "ask", "--json", K2_QUESTION],
        cwd="/",
        capture_output=True,
        text=True,
        timeout=60,
        env=shared.env(),
    )
    assert ask.returncode == 0, ask.stderr
    assert "Natto" in json.loads(ask.stdout)["results"][0]["text"]


def test_run_bot_py_still_works(shared: Dirs) -> None:
    result = run_bot(shared, "--help")
    assert result.returncode == 0 and "reindex" in result.stdout


README = REPO_ROOT / "README.md"
COMMAND = ".venv/bin/article-qa"


def test_readme_commands_are_copy_pasteable() -> None:
    """After `make run`, the README's commands work as written: no bare `python run_bot.py`, and
    every concrete `.venv/bin/article-qa ...` command parses."""
    text = README.read_text(encoding="utf-8")
    assert not re.search(r"(?<![/\w])python3? run_bot\.py", text)  # the system Python lacks the dependencies
    commands = [m.group(1) for m in re.finditer(r"`(\.venv/bin/article-qa[^`]*)`", text)]
    commands += [line.split("#")[0].strip() for line in text.splitlines() if line.startswith(("$ " + COMMAND, COMMAND))]
    commands = [c.removeprefix("$ ") for c in commands if "[" not in c and "..." not in c and "…" not in c]
    assert len(commands) >= 3, commands
    for command in commands:
        argv = shlex.split(command)
        assert argv[0] == COMMAND
        build_parser().parse_args(argv[1:])  # SystemExit (a failed test) if the README drifted


def test_readme_states_the_data_folder_default() -> None:
    row = next(line for line in README.read_text(encoding="utf-8").splitlines() if line.startswith("| `BOT_DATA_DIR`"))
    assert "next to the index" not in row
    assert "BOT_INDEX_DIR" in row and "--index" in row


def test_ask_json_on_a_fresh_index_keeps_stdout_clean(
    env_dirs: Dirs, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BOT_SEMANTIC", "on")  # the vectors follow in the background, and the notice says so
    assert main(["ask", "--json", K2_QUESTION, "and d3?"]) == 0
    out, err = capsys.readouterr()
    objects = [json.loads(line) for line in out.splitlines()]  # every line is JSON
    assert len(objects) == 1 and objects[0]["results"]
    assert "building" in err.lower()  # the notice is on stderr...
    assert "WARNING" not in err and "bot.engine" not in err and not re.search(r"\d\d:\d\d:\d\d", err)  # ...in words
    assert "index built" not in err  # info lines stay behind -v
    building, vectors = err.strip().splitlines()  # answered by words at once, and told how far the vectors are
    assert "building" in building and "Passage vectors being encoded in the background: " in vectors, err


def test_verbose_shows_the_log_lines(env_dirs: Dirs, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["-v", "ask", "--json", K2_QUESTION]) == 0
    out, err = capsys.readouterr()
    json.loads(out)
    assert "index built" in err and "bot.live_index" in err


def test_repl_reload_is_not_logged_into_the_conversation(built_dirs: Dirs) -> None:
    """A new build is picked up mid-conversation without an INFO line in the terminal. A subprocess,
    because what is at stake is the logging set-up of a real run."""
    dirs = built_dirs
    proc = subprocess.Popen(
        [sys.executable, "run_bot.py", "repl"],
        cwd=REPO_ROOT,
        env=dirs.env(BOT_RELOAD_SECONDS="0"),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdin and proc.stdout
    proc.stdin.write(K2_QUESTION + "\n")
    proc.stdin.flush()
    first = "".join(iter(proc.stdout.readline, "\n"))  # an answer ends with an empty line
    assert "Natto" in first
    shutil.copy(FIXTURES / "sleep-hygiene.md", dirs.corpus)
    build_index(dirs.settings())  # a new build, as from `reindex` in another shell
    out, err = proc.communicate("and d3?\n", timeout=60)
    assert proc.returncode == 0, err
    assert "Fatty fish" in out
    for text in (out, err):
        assert "now serving" not in text and "INFO" not in text and "index built" not in text, text
    assert "Traceback" not in err


def test_repl_more_after_no_answer(
    env_dirs: Dirs, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    build_index(env_dirs.settings())
    monkeypatch.setattr(sys, "stdin", io.StringIO("capital of australia\nmore\nmore\n"))
    assert main(["repl"]) == 0
    out = capsys.readouterr().out
    assert out.count("Nothing in the articles matches that.") == 1, out
    assert out.lower().count("nothing more") == 2, out


def test_ask_on_a_terminal_without_question_says_what_to_do(
    env_dirs: Dirs, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    build_index(env_dirs.settings())
    monkeypatch.setattr(sys, "stdin", Tty(K2_QUESTION + "\n"))
    assert main(["ask", "--json"]) == 0
    out, err = capsys.readouterr()
    assert "one per line" in err and "Ctrl-D" in err
    assert "Natto" in json.loads(out)["results"][0]["text"]  # stdout holds only the answer


def test_ask_from_a_pipe_prints_no_prompt(
    env_dirs: Dirs, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    build_index(env_dirs.settings())
    monkeypatch.setattr(sys, "stdin", io.StringIO(K2_QUESTION + "\n"))
    assert main(["ask", "--json"]) == 0
    assert capsys.readouterr().err == ""


def test_top_k_above_ten_is_honoured(env_dirs: Dirs, capsys: pytest.CaptureFixture[str]) -> None:
    build_index(env_dirs.settings())
    assert main(["ask", "--json", "--top-k", "15", "k2"]) == 0
    out, err = capsys.readouterr()
    assert len(json.loads(out)["results"]) == 15
    assert err == ""


def test_top_k_over_the_cap_is_said(env_dirs: Dirs, capsys: pytest.CaptureFixture[str]) -> None:
    build_index(env_dirs.settings())
    assert main(["ask", "--json", "--top-k", "100000", "k2"]) == 0
    out, err = capsys.readouterr()
    assert 10 < len(json.loads(out)["results"]) <= MAX_TOP_K
    assert "100000" in err and str(MAX_TOP_K) in err


def test_repl_page_size_over_ten_is_honoured(
    env_dirs: Dirs, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    build_index(env_dirs.settings())
    monkeypatch.setattr(sys, "stdin", io.StringIO("k2\n"))
    assert main(["repl", "--top-k", "12"]) == 0
    assert "[12]" in capsys.readouterr().out


def bar_fraction(text: str) -> float:
    """How full the last drawn bar is."""
    bar = re.findall(r"\[([#.]+)\]", text)[-1]
    return bar.count("#") / len(bar)


def test_progress_bar_covers_the_whole_build() -> None:
    stream = Tty()
    progress = progress_printer(stream)
    for n in range(1, 41):
        progress(n, 40, f"article-{n}.md")  # what the builder reports while reading: bare file names
    after_reading = bar_fraction(stream.getvalue())
    assert 0 < after_reading < 0.9  # reading (parsing and tokenising each article) is most of a build, not all of it
    assert not stream.getvalue().endswith("\n")
    for n in range(0, 801, 100):
        progress(n, 800, "tokenising")
    assert after_reading < bar_fraction(stream.getvalue()) < 1
    progress(1, 2, "writing")
    progress.finish()
    assert bar_fraction(stream.getvalue()) == 1.0
    assert stream.getvalue().endswith("\n") and stream.getvalue().count("\n") == 1


def test_progress_lines_on_a_pipe_name_the_stage_and_come_every_tenth_of_the_encoding() -> None:
    stream = io.StringIO()
    progress = progress_printer(stream)
    for n in range(1, 41):
        progress(n, 40, f"reading article-{n}.md")
    for n in range(1, 11):
        progress(n, 10, "writing")
    progress.finish()
    lines = stream.getvalue().splitlines()
    assert 3 <= len(lines) <= 12, lines
    assert "reading" in lines[0] and "100%" in lines[-1] and any("writing" in line for line in lines)
    stream = io.StringIO()
    encoding = vector_progress_printer(stream)
    for n in range(0, 2001, 100):  # the passages, for the sentence model, after the build: its own lines
        encoding(n, 2000, "encoding")
    encoding.finish()
    lines = stream.getvalue().splitlines()
    assert [line.split("%")[0] for line in lines] == [f"passage vectors: {10 * n}" for n in range(11)], lines


def test_progress_is_silent_for_a_small_corpus() -> None:
    stream = Tty()
    progress = progress_printer(stream)
    for n in range(1, 4):
        progress(n, 3, f"a{n}.txt")
    progress(1, 1, "writing")
    progress.finish()
    assert stream.getvalue() == ""


def test_reindex_progress_ends_with_the_build(
    dirs: Dirs, env_dirs: Dirs, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for n in range(25):
        shutil.copy(FIXTURES / "sleep-hygiene.md", dirs.corpus / f"sleep-{n}.md")
    stderr = Tty()
    monkeypatch.setattr(sys, "stderr", stderr)
    assert main(["reindex"]) == 0
    assert "Indexed 26 article(s)" in capsys.readouterr().out
    assert bar_fraction(stderr.getvalue()) == 1.0 and stderr.getvalue().endswith("\n")
    assert "index built" not in stderr.getvalue()


def test_ask_and_repl_do_not_import_html_telegram_or_nltk(built_dirs: Dirs) -> None:
    """Cold start: answering never parses HTML nor talks to Telegram, so it does not pay their imports; and a
    question in the articles' words needs no NLTK (the build stored its words' stems and its sentences)."""
    code = (
        "import sys\nfrom bot.cli import main\n"
        f"main(['ask', '--json', {K2_QUESTION!r}])\n"
        "main(['repl'])\n"
        "print(sorted(m for m in ('bs4', 'telegram', 'httpx', 'nltk') if m in sys.modules))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO_ROOT,
        env=built_dirs.env(),
        input=f"{K2_QUESTION}\n",
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[-1] == "[]", proc.stdout


# ----- rough edges a new user hit (issue 25) ---------------------------------------------------
@pytest.mark.parametrize("command", ["ask", "reindex", "repl", "eval"])
def test_a_mistyped_corpus_folder_is_an_error_not_another_index(
    env_dirs: Dirs, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, command: str
) -> None:
    """`--corpus corpuss` used to say the articles changed, then answer from the old index and exit 0."""
    build_index(env_dirs.settings())
    build_id = read_manifest(env_dirs.index)["build_id"]
    typo = env_dirs.corpus.parent / "corpuss"
    monkeypatch.setattr(sys, "stdin", io.StringIO(K2_QUESTION + "\n"))
    args = [command, "--corpus", str(typo)] + ([K2_QUESTION] if command == "ask" else [])
    assert main(args) != 0
    out, err = capsys.readouterr()
    assert out == ""
    assert f"corpus folder {typo} does not exist" in err and "rebuilding" not in err
    assert read_manifest(env_dirs.index)["build_id"] == build_id


def test_a_corpus_path_that_is_a_file_is_named_as_such(
    env_dirs: Dirs, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    build_index(env_dirs.settings())
    article = env_dirs.corpus / "vitamin-k2-d3-bone-density.txt"
    assert main(["ask", "--corpus", str(article), K2_QUESTION]) != 0
    out, err = capsys.readouterr()
    assert out == "" and "is not a folder" in err


def test_environment_variables_are_read_only_in_config() -> None:
    """Every setting has one declaration: bot/config.py reads the environment, nothing else in bot/ does."""
    readers = {
        str(path.relative_to(REPO_ROOT))
        for path in (REPO_ROOT / "bot").rglob("*.py")
        if re.search(r"os\.environ|os\.getenv|getenv\(", path.read_text(encoding="utf-8"))
    }
    assert readers == {"bot/config.py"}


def test_settings_read_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from bot.config import benchmarks_dir, load_settings

    monkeypatch.setenv("BOT_LOG_RETENTION_DAYS", "30")
    monkeypatch.setenv("BOT_DRAIN_SECONDS", "2.5")
    monkeypatch.setenv("TELEGRAM_WEBHOOK_SECRET", " s3cret ")
    monkeypatch.setenv("BOT_BENCHMARKS_DIR", str(tmp_path))
    monkeypatch.setenv("BOT_DATA_DIR", str(tmp_path / "data"))
    settings = load_settings()
    assert (settings.log_retention_days, settings.drain_seconds, settings.webhook_secret) == (30, 2.5, "s3cret")
    assert QuestionLog.default(settings).retention_days == 30
    assert benchmarks_dir() == tmp_path
    monkeypatch.setenv("BOT_DRAIN_SECONDS", "soon")
    with pytest.raises(SystemExit, match="BOT_DRAIN_SECONDS"):
        load_settings()


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        (["--port", "8443"], "--port only apply in webhook mode"),
        (["--listen", "0.0.0.0", "--secret-token", "s"], "--listen, --secret-token only apply in webhook mode"),
        (["--webhook-url", "http://bot.example.com/tg"], "must be an https:// URL"),
        (["--webhook-url", "bot.example.com/tg"], "must be an https:// URL"),
        (["--webhook-url", "https://bot.example.com/tg", "--port", "70000"], "--port must be between 1 and 65535"),
    ],
)
def test_telegram_webhook_flags_are_checked_before_connecting(
    env_dirs: Dirs, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, flags: list[str], expected: str
) -> None:
    """`telegram --port 8443` without --webhook-url was silently ignored, and an http:// URL went to Telegram."""
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "123:TEST")
    monkeypatch.setenv("TELEGRAM_API_URL", "http://127.0.0.1:9/bot")  # nothing listens there: never the internet
    assert main(["telegram", *flags]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and expected in err and len(err.strip().splitlines()) == 1, err


def test_stats_after_ask_says_that_only_telegram_questions_are_counted(
    env_dirs: Dirs, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A new user asked in the REPL, then ran `stats`, and was told only that nothing had been logged."""
    build_index(env_dirs.settings())
    monkeypatch.setattr(sys, "stdin", io.StringIO(K2_QUESTION + "\n"))
    assert main(["repl"]) == 0
    assert main(["ask", K2_QUESTION]) == 0
    capsys.readouterr()
    assert main(["stats"]) == 1
    err = capsys.readouterr().err
    assert "only the Telegram bot logs questions" in err and "REPL" in err and "ask" in err, err
    log = QuestionLog.default(env_dirs.settings())
    log.record_question(42, K2_QUESTION, True, "Dietary Sources of K2 and D3")
    assert main(["stats"]) == 0
    out = capsys.readouterr().out
    assert "Questions (last 7 day(s)): 1" in out and "Telegram only" in out


def a_result(text: str, answer: str) -> Result:
    return Result("An Article", "a.txt", "Section", "Sub", text, 1.0, answer, frozenset({"k2"}))


def test_the_answer_sentence_is_shown_and_highlighted_in_the_terminal() -> None:
    """The README promised the answer sentence in the terminal; only --json and Telegram had it."""
    result = a_result("Some words first. K2 is found in natto. More words after.", "K2 is found in natto.")
    plain = format_result(1, result).splitlines()
    assert plain[:3] == ["[1] Section › Sub", "    from: An Article", "    answer: K2 is found in natto."]
    assert plain[3] == "    Some words first. K2 is found in natto. More words after."
    ansi = format_result(1, result, ansi=True).splitlines()
    assert ansi[2] == f"    answer: {BOLD}K2 is found in natto.{RESET}"
    assert f"{BOLD}K2{RESET}" in ansi[3]  # the passage keeps its matched words in bold
    whole = format_result(1, a_result("K2 is found in natto.", "K2 is found in natto."))
    assert "answer:" not in whole  # a one-sentence passage is its own answer: not shown twice


def test_ask_prints_the_answer_sentence_that_json_gives(shared: Dirs) -> None:
    answer = run_bot(shared, "ask", "--json", "--top-k", "1", K2_QUESTION).json_lines()[0]["results"][0]["answer"]
    plain = run_bot(shared, "ask", "--top-k", "1", K2_QUESTION)
    assert plain.returncode == 0 and f"    answer: {answer}" in plain.stdout.splitlines()


def test_a_folder_without_articles_names_what_it_skipped_and_why(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A folder of PDFs said "no articles" without naming a single file it had passed over."""
    corpus = tmp_path / "pdfs"
    corpus.mkdir()
    for n in range(12):
        (corpus / f"paper-{n:02d}.pdf").write_bytes(b"%PDF-1.4")
    (corpus / "drafts").mkdir()
    monkeypatch.setenv("BOT_INDEX_DIR", str(tmp_path / "index"))
    assert main(["reindex", "--corpus", str(corpus)]) == 1
    err = capsys.readouterr().err
    assert "no articles" in err and len(err.strip().splitlines()) == 1, err
    assert "paper-00.pdf" in err and "unsupported file type" in err and "and 7 more" in err  # 12 named as 5 + 7
    assert "drafts (a folder" in err
