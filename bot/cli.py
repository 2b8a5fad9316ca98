"""Command line: reindex, ask, repl, eval, stats and telegram; with no command, the REPL or the bot."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, TextIO
from urllib.parse import urlsplit

from bot.config import PROJECT_ROOT, Settings, load_settings
from bot.errors import BotError, CorpusError
from bot.terminal import visible

if TYPE_CHECKING:
    from bot.engine import Engine

log = logging.getLogger("bot")

DEFAULT_EVAL_FILE = PROJECT_ROOT / "tests" / "eval" / "dev.jsonl"
MAX_TOP_K = 50  # the most results one question returns; a larger --top-k is capped, with a note on stderr
WEBHOOK_LISTEN, WEBHOOK_PORT = "127.0.0.1", 8443  # where the webhook server listens unless --listen/--port say
PROG = "article-qa"  # the console script (pyproject [project.scripts]); run_bot.py is the same program


def build_parser() -> argparse.ArgumentParser:
    invoked = Path(sys.argv[0]).name if sys.argv and sys.argv[0] else ""
    parser = argparse.ArgumentParser(
        prog=invoked if invoked in (PROG, "run_bot.py") else PROG,
        description=(
            "Answer questions from articles. "
            "With no command: the Telegram bot if TELEGRAM_BOT_TOKEN is set, else the REPL."
        ),
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log more (debug level)")
    sub = parser.add_subparsers(dest="command")

    p = sub.add_parser("reindex", help="build the index from the corpus and print a summary")
    add_dirs(p)

    p = sub.add_parser("ask", help="answer a question (or one question per stdin line)")
    p.add_argument("--json", action="store_true", help="print one JSON object per question")
    p.add_argument(
        "--explain", action="store_true", help="show how the results were ranked: each one's features and score"
    )
    p.add_argument(
        "--top-k",
        type=positive_int,
        default=None,
        help=f"results per question, at most {MAX_TOP_K} (default: BOT_TOP_K or 3)",
    )
    add_dirs(p)
    p.add_argument("question", nargs="*", help="the question; without it, read questions from stdin")

    p = sub.add_parser("repl", help="interactive prompt with line editing and history")
    p.add_argument(
        "--top-k",
        type=positive_int,
        default=None,
        help=f"results shown at a time, at most {MAX_TOP_K} (default: BOT_TOP_K or 3)",
    )
    add_dirs(p)

    p = sub.add_parser("eval", help="score answer quality on a question file (hit@1, hit@3, MRR...)")
    p.add_argument("file", nargs="?", type=Path, default=DEFAULT_EVAL_FILE, help="question file (JSON Lines)")
    p.add_argument(
        "--benchmarks",
        action="store_true",
        help="score the shared MedQuAD and LiveQA sets (BOT_BENCHMARKS_DIR) beside a rank-bm25 baseline instead",
    )
    p.add_argument("--quiet", action="store_true", help="print only the metrics, not each miss")
    p.add_argument("--json", action="store_true", help="print the metrics as JSON")
    add_dirs(p)

    p = sub.add_parser("stats", help="Telegram questions asked, share answered, top unanswered, feedback")
    p.add_argument("--days", type=int, default=7, help="period in days (0 = all time; default 7)")
    p.add_argument("--data", type=Path, default=None, help="data directory (default: BOT_DATA_DIR or data/)")

    p = sub.add_parser("telegram", help="run the Telegram bot (needs TELEGRAM_BOT_TOKEN)")
    add_dirs(p)
    p.add_argument("--webhook-url", default=None, help="public HTTPS URL for webhook mode (default: long polling)")
    p.add_argument("--listen", default=None, help=f"webhook listen address (default {WEBHOOK_LISTEN})")
    p.add_argument("--port", type=int, default=None, help=f"webhook listen port (default {WEBHOOK_PORT})")
    p.add_argument("--secret-token", default=None, help="webhook secret token (default: TELEGRAM_WEBHOOK_SECRET)")
    return parser


def positive_int(value: str) -> int:
    n = int(value)
    if n < 1:
        raise argparse.ArgumentTypeError("must be 1 or more")
    return n


def add_dirs(p: argparse.ArgumentParser) -> None:
    """--corpus and --index: every command that opens an index also checks it against its corpus."""
    p.add_argument("--corpus", type=Path, default=None, help="article folder (default: BOT_CORPUS_DIR or corpus/)")
    p.add_argument("--index", type=Path, default=None, help="index folder (default: BOT_INDEX_DIR or index/)")


def settings_for(args: argparse.Namespace) -> Settings:
    """Settings with --corpus and --index applied.

    An index remembers the corpus it was built from: given an index (--index or BOT_INDEX_DIR) but
    no corpus (--corpus or BOT_CORPUS_DIR), the index's own corpus is used, so the index is never
    rebuilt from another one.
    """
    from bot.index_store import recorded_corpus

    given = getattr(args, "corpus", None)
    settings = load_settings().with_paths(given, getattr(args, "index", None))
    if given is None and not settings.corpus_given:
        recorded = recorded_corpus(settings.index_dir)
        if recorded is not None:
            settings = replace(settings, corpus_dir=recorded)
        return settings
    check_corpus_folder(settings.corpus_dir, "--corpus" if given is not None else "BOT_CORPUS_DIR")
    return settings


def check_corpus_folder(corpus_dir: Path, source: str) -> None:
    """A corpus folder someone named must exist: a typo is an error, not a reason to rebuild or to
    answer from another index."""
    if not corpus_dir.exists():
        raise CorpusError(f"the corpus folder {corpus_dir} does not exist (check {source})", corpus_dir=corpus_dir)
    if not corpus_dir.is_dir():
        raise CorpusError(f"the corpus folder {corpus_dir} is not a folder (check {source})", corpus_dir=corpus_dir)


def main(argv: list[str] | None = None) -> int:
    if sys.stdin is None:  # started with stdin closed (`ask <&-`): read it as empty
        sys.stdin = open(os.devnull, encoding="utf-8")
    args = build_parser().parse_args(argv)
    command = args.command or ("telegram" if load_settings().telegram_token else "repl")
    setup_logging(verbose=args.verbose, service=command == "telegram")
    handlers: dict[str, Callable[[argparse.Namespace], int]] = {
        "reindex": cmd_reindex,
        "ask": cmd_ask,
        "repl": cmd_repl,
        "eval": cmd_eval,
        "stats": cmd_stats,
        "telegram": cmd_telegram,
    }
    if args.command is None:
        args = build_parser().parse_args([*(sys.argv[1:] if argv is None else argv), command])
    tolerate_undecodable_stdin()
    try:
        return handlers[command](args)
    except BotError as exc:
        print(f"error: {visible(str(exc))}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted" + ("; the index on disk is as it was" if command == "reindex" else ""), file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader of stdout went away (e.g. `| head`): stop quietly
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # so the final flush at exit cannot fail again
        return 1
    except OSError as exc:  # e.g. an index folder that cannot be written: say so, no traceback
        print(f"error: {visible(str(exc))}", file=sys.stderr)
        return 1
    finally:
        remove_log_handler()


def remove_log_handler() -> None:
    """Take main()'s log handler off again, so a later main() (or other code in the process) starts clean."""
    global _handler
    if _handler is not None:
        logging.getLogger().removeHandler(_handler)
        _handler = None


class UserLogFormat(logging.Formatter):
    """A log record as a short line for the person at the terminal: 'note: ...' or 'error: ...'."""

    def format(self, record: logging.LogRecord) -> str:
        prefix = "note" if record.levelno < logging.ERROR else "error"
        return f"{prefix}: {record.getMessage()}"


class OnlyOnce(logging.Filter):
    """Let each distinct message through once (a failing reload would otherwise repeat per question)."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: set[str] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if message in self.seen:
            return False
        self.seen.add(message)
        return True


_handler: logging.Handler | None = None


class StderrHandler(logging.StreamHandler):
    """Writes to whatever sys.stderr is when a record is emitted, not to the stream at set-up.

    main() can run more than once in a process (the tests do); a handler bound to an earlier,
    since closed stderr would turn every later log record into a "Logging error" traceback.
    """

    @property
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, value: TextIO) -> None:
        pass


def setup_logging(verbose: bool, service: bool) -> None:
    """Where log records go. Commands a person runs (ask, repl, reindex, ...) get warnings only, once
    each, as short notes on stderr; stdout carries nothing but the output. -v shows every record in
    full. The Telegram bot, a service, logs INFO and up with timestamps."""
    global _handler
    root = logging.getLogger()
    if _handler is not None:  # main() called again in the same process (tests): replace, do not stack
        root.removeHandler(_handler)
    handler = StderrHandler()
    if verbose or service:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        handler.setLevel(logging.DEBUG if verbose else logging.INFO)
        root.setLevel(handler.level)
    else:
        handler.setFormatter(UserLogFormat())
        handler.setLevel(logging.WARNING)
        handler.addFilter(OnlyOnce())
        root.setLevel(min(root.level or logging.WARNING, logging.WARNING))
    root.addHandler(handler)
    _handler = handler


def tolerate_undecodable_stdin() -> None:
    """Read bytes that are not valid text as U+FFFD: binary junk on stdin is bad input, not a crash."""
    reconfigure = getattr(sys.stdin, "reconfigure", None)
    if reconfigure is not None:
        try:
            reconfigure(errors="replace")
        except (ValueError, OSError):  # already read from, or not a text stream
            pass


# ----- reindex ---------------------------------------------------------------------------
def cmd_reindex(args: argparse.Namespace) -> int:
    """Build by words (the index answers at once), then wait for the passage vectors, each with its progress.

    An admin who runs reindex expects the index to be complete when it returns (scripts chain it), and
    the bot serves the words build meanwhile. Ctrl-C while the vectors encode leaves the words build
    serving and hands the encoding to a background process.
    """
    from bot.builder import add_vectors, build_words_first
    from bot.vector_build import start_background

    settings = settings_for(args)
    progress = progress_printer(sys.stderr)
    try:
        report = build_words_first(settings, progress=progress)
    except BaseException:
        progress.finish(completed=False)
        raise
    progress.finish()
    print(report.summary(), flush=True)
    encoding = vector_progress_printer(sys.stderr)
    try:
        report = add_vectors(settings, report, encoding, wait=True)
    except KeyboardInterrupt:
        encoding.finish(completed=False)
        started = start_background(settings.index_dir, settings.encoder_model)
        print(
            "interrupted: the new index answers by words; its passage vectors "
            + ("are being encoded in the background." if started else "will be encoded when the bot next opens it."),
            file=sys.stderr,
        )
        return 130
    encoding.finish()
    if report.vector_seconds is not None:
        print(report.vector_summary())
    return 0


# The stages of a build by words, in order, and the share of its time each takes in a cold build of
# 10k passages. "reading" includes parsing and tokenising each article. Encoding the passages for
# the sentence model comes after the build, with a bar of its own (vector_progress_printer).
BUILD_STAGES: dict[str, float] = {
    "reading": 0.65,
    "splitting": 0.0,
    "tokenising": 0.10,
    "vocabulary": 0.20,
    "writing": 0.05,
}
MIN_ARTICLES_FOR_PROGRESS = 20


class ProgressBar:
    """Progress of a whole build: a bar on a terminal, a line every 10% otherwise.

    The builder calls it as progress(done, total, label). The label names the stage: "reading x.md"
    (or a bare file name, also reading), "splitting", "tokenising", "vocabulary", "encoding" or "writing";
    done/total count within that stage. The bar weighs each stage by its share of a build, so it
    fills across the whole build and never goes back. finish() completes it when the build is over.
    Nothing is shown for a corpus of fewer than MIN_ARTICLES_FOR_PROGRESS articles.
    """

    def __init__(
        self, stream: TextIO, width: int = 30, stages: dict[str, float] | None = None, name: str = "indexing"
    ) -> None:
        self.stream = stream
        self.stages = stages or BUILD_STAGES
        self.name = name
        self.tty = stream.isatty()
        self.width = width
        self.started = time.monotonic()
        self.fraction = 0.0
        self.stage = "reading"
        self.shown: bool | None = None  # decided by the first call
        self.last_tenth = -1
        self.drawn = False

    @staticmethod
    def parse(label: str) -> tuple[str, str]:
        """(stage, detail) of a label: 'reading a.md' -> ('reading', 'a.md'); 'a.md' -> ('reading', 'a.md')."""
        word, _, rest = label.partition(" ")
        return (word, rest) if word in BUILD_STAGES or word == "encoding" else ("reading", label)

    def __call__(self, done: int, total: int, label: str) -> None:
        stage, detail = self.parse(label)
        if self.shown is None:
            self.shown = stage != "reading" or total >= MIN_ARTICLES_FOR_PROGRESS
        if not self.shown:
            return
        if stage not in self.stages:
            return
        stages = list(self.stages)
        before = sum(self.stages[s] for s in stages[: stages.index(stage)])
        within = min(1.0, done / total) if total > 0 else 1.0
        self.fraction = max(self.fraction, min(1.0, before + self.stages[stage] * within))
        self.stage = stage
        self.draw(detail or f"{done}/{total}")

    def draw(self, detail: str) -> None:
        percent = round(100 * self.fraction)
        if self.tty:
            filled = round(self.width * self.fraction)
            text = f"{self.stage} {detail}"[:40]
            self.stream.write(f"\r[{'#' * filled}{'.' * (self.width - filled)}] {percent:3d}% {text:<40}")
            self.stream.flush()
            self.drawn = True
        else:
            tenth = int(self.fraction * 10)
            if tenth > self.last_tenth:
                self.last_tenth = tenth
                self.stream.write(f"{self.name}: {percent}% ({self.stage}, {time.monotonic() - self.started:.1f}s)\n")
                self.stream.flush()

    def finish(self, completed: bool = True) -> None:
        """The build is over: complete the bar (or, when it failed, leave it) and end its line."""
        if not self.shown:
            return
        self.shown = False  # once
        if completed and self.fraction < 1.0:
            self.fraction, self.stage = 1.0, "done"
            self.draw(f"{time.monotonic() - self.started:.1f}s")
        if self.drawn:
            self.stream.write("\n")
            self.stream.flush()


def progress_printer(stream: TextIO) -> ProgressBar:
    """A progress display for build_index(progress=...); call .finish() when the build returns."""
    return ProgressBar(stream)


def vector_progress_printer(stream: TextIO) -> ProgressBar:
    """The progress of encoding the passage vectors after a build: a bar, or a line every 10%."""
    return ProgressBar(stream, stages={"encoding": 1.0}, name="passage vectors")


# ----- ask ---------------------------------------------------------------------------------
def preload_model(args: argparse.Namespace) -> None:
    """Start loading the sentence model before the slow imports, when the index has vectors to use."""
    from bot.vector_build import preload_model_for

    settings = load_settings()
    preload_model_for(
        Path(args.index).expanduser() if args.index else settings.index_dir, settings.semantic, settings.encoder_model
    )


def cmd_ask(args: argparse.Namespace) -> int:
    preload_model(args)
    from bot.engine import Engine

    settings = settings_for(args)
    top_k = capped_top_k(args.top_k, settings)
    if not args.question and sys.stdin.isatty():
        print(ASK_PROMPT.format(prog=PROG), file=sys.stderr)
    engine = Engine(settings)
    engine.open()
    if args.question:
        print_answer(engine, " ".join(args.question), None, args.json, top_k, args.explain)
        return 0
    for question, conversation in conversation_lines(sys.stdin):
        print_answer(engine, question, conversation, args.json, top_k, args.explain)
        sys.stdout.flush()
    return 0


ASK_PROMPT = (
    "Type your questions, one per line; an empty line starts a new conversation, Ctrl-D ends.\n"
    "(For an interactive prompt with 'more' and history, run `{prog} repl`.)"
)


def capped_top_k(requested: int | None, settings: Settings) -> int:
    """--top-k (or BOT_TOP_K), at most MAX_TOP_K; a larger request is capped with a note on stderr."""
    top_k = requested or settings.top_k
    if top_k > MAX_TOP_K:
        source = "--top-k" if requested else "BOT_TOP_K"
        print(
            f"note: {source} {top_k} is more than the {MAX_TOP_K} results a question can return; showing at most "
            f"{MAX_TOP_K}.",
            file=sys.stderr,
        )
        return MAX_TOP_K
    return top_k


def conversation_lines(lines: Iterable[str]) -> Iterable[tuple[str, str]]:
    """(question, conversation id) per non-empty line; an empty line starts a new conversation."""
    conversation = 0
    for line in lines:
        question = line.rstrip("\r\n")
        if not question.strip():
            conversation += 1
            continue
        yield question, f"stdin-{conversation}"


def print_answer(
    engine: Engine, question: str, conversation: str | None, as_json: bool, top_k: int, explain: bool = False
) -> None:
    from bot.engine import MAX_RESULTS
    from bot.render_text import format_answer

    lines = engine.explain(question, conversation, limit=top_k) if explain else []
    if lines and not as_json:
        print(visible("\n".join(lines)))
    answer = engine.answer(question, conversation, limit=max(top_k, MAX_RESULTS))
    if as_json:
        data = answer.to_json(top_k)
        if lines:
            data["explain"] = lines
        print(json.dumps(data, ensure_ascii=False))
    else:
        print(format_answer(answer, 0, top_k, more_hint=False))
        print()


# ----- repl ----------------------------------------------------------------------------------
def cmd_repl(args: argparse.Namespace) -> int:
    preload_model(args)
    from bot.engine import Engine
    from bot.repl import Repl

    settings = settings_for(args)
    page_size = capped_top_k(args.top_k, settings)
    engine = Engine(settings)
    engine.open()
    return Repl(engine, page_size, settings.data_dir / "repl_history").run()


# ----- eval ----------------------------------------------------------------------------------
def cmd_eval(args: argparse.Namespace) -> int:
    from bot.engine import Engine
    from bot.evaluation import evaluate, format_report, load_cases

    if args.benchmarks:
        return eval_benchmarks(args)
    cases = load_cases(args.file)
    engine = Engine(replace(settings_for(args), background_vectors=False))  # quality is measured with the vectors
    engine.open()
    report = evaluate(engine, cases)
    if args.json:
        print(json.dumps({k: round(v, 4) for k, v in report.metrics().items()}))
    else:
        print(format_report(report, show_misses=not args.quiet))
    return 0


def eval_benchmarks(args: argparse.Namespace) -> int:
    """The shared health benchmarks: a table per set, or a note when the data is not there."""
    from bot.benchmarks import answered_share, benchmarks_dir, format_table, run_benchmarks
    from bot.engine import Engine

    root = benchmarks_dir()
    if not (root / "questions-dev.json").is_file():
        print(f"note: benchmark data not found in {root} (set BOT_BENCHMARKS_DIR); skipped", file=sys.stderr)
        return 0
    settings = replace(settings_for(args), background_vectors=False)  # quality is measured with the vectors
    results = run_benchmarks(settings, root)
    own = Engine(settings)
    own.open()
    elsewhere = {bench.name: answered_share(own, bench.questions) for bench, _ in results}
    if args.json:
        report = {
            bench.name: {run.name: {k: round(v, 4) for k, v in run.metrics().items()} for run in runs}
            for bench, runs in results
        }
        for name, share in elsewhere.items():
            report[name]["bot asked of the own corpus"] = {"answered": round(share, 4)}
        print(json.dumps(report))
    else:
        print("\n\n".join(format_table(bench.name, runs) for bench, runs in results))
        print(
            f"\nThe same questions asked of {settings.corpus_dir} (about other things, unless it covers these "
            "conditions):"
        )
        for name, share in elsewhere.items():
            print(f"  {name}: the bot answers {share:.1%} (rank-bm25 would answer every one)")
    return 0


# ----- stats ---------------------------------------------------------------------------------
def cmd_stats(args: argparse.Namespace) -> int:
    from bot.questionlog import QuestionLog

    if args.days < 0:
        print(f"error: --days must be 0 (all time) or more, not {args.days}", file=sys.stderr)
        return 2
    settings = load_settings()
    if args.data:
        settings = replace(settings, data_dir=args.data)
    report = QuestionLog.for_reading(settings).stats(args.days or None)  # creates nothing; errors are BotErrors
    print(report.format())
    print(TELEGRAM_ONLY)
    return 0


TELEGRAM_ONLY = "(Questions asked on Telegram only: the REPL and `ask` do not log questions.)"


# ----- telegram ------------------------------------------------------------------------------
def cmd_telegram(args: argparse.Namespace) -> int:
    problem = webhook_problem(args.webhook_url, listen=args.listen, port=args.port, secret_token=args.secret_token)
    if problem:
        print(f"error: {visible(problem)}", file=sys.stderr)
        return 2
    settings = settings_for(args)
    if not settings.telegram_token:
        print("error: TELEGRAM_BOT_TOKEN is not set; get a token from @BotFather (see README)", file=sys.stderr)
        return 2
    from bot.telegram.app import run_telegram

    return run_telegram(
        settings,
        webhook_url=args.webhook_url,
        listen=args.listen or WEBHOOK_LISTEN,
        port=WEBHOOK_PORT if args.port is None else args.port,
        secret_token=args.secret_token or settings.webhook_secret or None,
    )


def webhook_problem(url: str | None, *, listen: str | None, port: int | None, secret_token: str | None) -> str:
    """Why the webhook flags cannot work, before anything connects ('' when they can).

    --listen, --port and --secret-token only mean something in webhook mode, so without --webhook-url
    they are an error rather than silently ignored; and Telegram delivers webhooks over HTTPS only.
    """
    if not url:
        given = [
            flag
            for flag, value in (("--listen", listen), ("--port", port), ("--secret-token", secret_token))
            if value is not None
        ]
        if given:
            return f"{', '.join(given)} only apply in webhook mode: add --webhook-url https://... or drop them"
        return ""
    parts = urlsplit(url)
    if parts.scheme.lower() != "https" or not parts.hostname:
        return f"--webhook-url must be an https:// URL (Telegram sends webhooks over HTTPS only), not {url!r}"
    if port is not None and not 0 < port < 65536:
        return f"--port must be between 1 and 65535, not {port}"
    return ""
