"""Command line: reindex, ask, repl, eval, stats and telegram; with no command, the REPL or the bot."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterable, TextIO

from bot.config import PROJECT_ROOT, Settings, load_settings
from bot.errors import BotError

if TYPE_CHECKING:
    from bot.engine import Engine

log = logging.getLogger("bot")

DEFAULT_EVAL_FILE = PROJECT_ROOT / "tests" / "eval" / "dev.jsonl"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="run_bot.py",
        description="Answer questions from articles. With no command: the Telegram bot if TELEGRAM_BOT_TOKEN is set, else the REPL.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log more (debug level)")
    sub = parser.add_subparsers(dest="command")

    p = sub.add_parser("reindex", help="build the index from the corpus and print a summary")
    add_dirs(p)

    p = sub.add_parser("ask", help="answer a question (or one question per stdin line)")
    p.add_argument("--json", action="store_true", help="print one JSON object per question")
    p.add_argument("--top-k", type=positive_int, default=None, help="results per question (default: BOT_TOP_K or 3)")
    add_dirs(p)
    p.add_argument("question", nargs="*", help="the question; without it, read questions from stdin")

    p = sub.add_parser("repl", help="interactive prompt with line editing and history")
    p.add_argument("--top-k", type=positive_int, default=None, help="results shown at a time")
    add_dirs(p)

    p = sub.add_parser("eval", help="score answer quality on a question file (hit@1, hit@3, MRR...)")
    p.add_argument("file", nargs="?", type=Path, default=DEFAULT_EVAL_FILE, help="question file (JSON Lines)")
    p.add_argument("--quiet", action="store_true", help="print only the metrics, not each miss")
    p.add_argument("--json", action="store_true", help="print the metrics as JSON")
    add_dirs(p)

    p = sub.add_parser("stats", help="questions asked, share answered, top unanswered, feedback")
    p.add_argument("--days", type=int, default=7, help="period in days (0 = all time; default 7)")
    p.add_argument("--data", type=Path, default=None, help="data directory (default: BOT_DATA_DIR or data/)")

    p = sub.add_parser("telegram", help="run the Telegram bot (needs TELEGRAM_BOT_TOKEN)")
    add_dirs(p)
    p.add_argument("--webhook-url", default=None, help="public HTTPS URL for webhook mode (default: long polling)")
    p.add_argument("--listen", default="127.0.0.1", help="webhook listen address (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8443, help="webhook listen port (default 8443)")
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
    return load_settings().with_paths(getattr(args, "corpus", None), getattr(args, "index", None))


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    command = args.command or ("telegram" if load_settings().telegram_token else "repl")
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
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # the reader of stdout went away (e.g. `| head`): stop quietly
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # so the final flush at exit cannot fail again
        return 1


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
    from bot.builder import build_index

    settings = settings_for(args)
    report = build_index(settings, progress=progress_printer(sys.stderr))
    print(report.summary())
    return 0


def progress_printer(stream: TextIO) -> Callable[[int, int, str], None]:
    """A progress bar on a terminal; plain lines every 10% otherwise (nothing for tiny corpora)."""
    tty = stream.isatty()
    started = time.monotonic()

    def show(done: int, total: int, name: str) -> None:
        if total < 20:
            return
        if tty:
            width = 30
            filled = width * done // total
            stream.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total} {name[:40]:<40}")
            if done == total:
                stream.write("\n")
            stream.flush()
        elif done == total or done % max(1, total // 10) == 0:
            stream.write(f"read {done}/{total} articles ({time.monotonic() - started:.1f}s)\n")

    return show


# ----- ask ---------------------------------------------------------------------------------
def cmd_ask(args: argparse.Namespace) -> int:
    from bot.engine import Engine

    settings = settings_for(args)
    top_k = args.top_k or settings.top_k
    engine = Engine(settings)
    engine.open()
    if args.question:
        print_answer(engine, " ".join(args.question), None, args.json, top_k)
        return 0
    for question, conversation in conversation_lines(sys.stdin):
        print_answer(engine, question, conversation, args.json, top_k)
        sys.stdout.flush()
    return 0


def conversation_lines(lines: Iterable[str]) -> Iterable[tuple[str, str]]:
    """(question, conversation id) per non-empty line; an empty line starts a new conversation."""
    conversation = 0
    for line in lines:
        question = line.rstrip("\r\n")
        if not question.strip():
            conversation += 1
            continue
        yield question, f"stdin-{conversation}"


def print_answer(engine: "Engine", question: str, conversation: str | None, as_json: bool, top_k: int) -> None:
    from bot.render_text import format_answer

    answer = engine.answer(question, conversation)
    if as_json:
        print(json.dumps(answer.to_json(top_k), ensure_ascii=False))
    else:
        print(format_answer(answer, 0, top_k, more_hint=False))
        print()


# ----- repl ----------------------------------------------------------------------------------
def cmd_repl(args: argparse.Namespace) -> int:
    from bot.engine import Engine
    from bot.repl import Repl

    settings = settings_for(args)
    engine = Engine(settings)
    engine.open()
    return Repl(engine, args.top_k or settings.top_k, settings.data_dir / "repl_history").run()


# ----- eval ----------------------------------------------------------------------------------
def cmd_eval(args: argparse.Namespace) -> int:
    from bot.engine import Engine
    from bot.evaluation import evaluate, format_report, load_cases

    cases = load_cases(args.file)
    engine = Engine(settings_for(args))
    engine.open()
    report = evaluate(engine, cases)
    if args.json:
        print(json.dumps({k: round(v, 4) for k, v in report.metrics().items()}))
    else:
        print(format_report(report, show_misses=not args.quiet))
    return 0


# ----- stats ---------------------------------------------------------------------------------
def cmd_stats(args: argparse.Namespace) -> int:
    from bot.questionlog import QuestionLog

    settings = load_settings()
    if args.data:
        settings = replace(settings, data_dir=args.data)
    print(QuestionLog.default(settings).stats(args.days or None).format())
    return 0


# ----- telegram ------------------------------------------------------------------------------
def cmd_telegram(args: argparse.Namespace) -> int:
    import os

    settings = settings_for(args)
    if not settings.telegram_token:
        print("error: TELEGRAM_BOT_TOKEN is not set; get a token from @BotFather (see README)", file=sys.stderr)
        return 2
    from bot.telegram.app import run_telegram

    return run_telegram(
        settings,
        webhook_url=args.webhook_url,
        listen=args.listen,
        port=args.port,
        secret_token=args.secret_token or os.environ.get("TELEGRAM_WEBHOOK_SECRET") or None,
    )
