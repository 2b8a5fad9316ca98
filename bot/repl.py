"""The local REPL: ask questions, page with `more`, list `sources`, `reset` the conversation."""

from __future__ import annotations

import sys
from pathlib import Path

from bot.answers import Answer
from bot.engine import MAX_RESULTS, Engine
from bot.errors import BotError
from bot.query import Concept
from bot.render_text import format_answer
from bot.terminal import visible, visible_line

HELP = """Type a question and press Enter. Follow-up questions ("and why?") use the previous one.
Commands:
  more      show the next results
  sources   list the articles and their sections
  explain   show how the last question's results were ranked (or: explain QUESTION)
  reset     forget the conversation so far
  help      show this help
  quit      leave (or Ctrl-D)"""


class Repl:
    """A read-eval-print loop over the shared Engine; works on a terminal and on a pipe."""

    def __init__(self, engine: Engine, page_size: int, history_file: Path) -> None:
        self.engine = engine
        self.page_size = page_size
        self.limit = max(MAX_RESULTS, page_size)  # results fetched per question, paged with `more`
        self.history_file = history_file
        self.interactive = sys.stdin.isatty()
        self.ansi = sys.stdout.isatty()
        self.last: Answer | None = None
        self.before_last: tuple[Concept, ...] = ()  # the conversation's context when the last question was asked
        self.shown = 0
        self.conversation = "repl"

    def run(self) -> int:
        self.setup_readline()
        if self.interactive:
            print("Ask me about the articles. Type 'help' for commands, Ctrl-D to quit.")
            for example in self.engine.examples(3):
                print(f"  e.g. {example}")
        while True:
            try:
                line = input("> " if self.interactive else "")
            except EOFError:
                if self.interactive:
                    print()
                break
            except KeyboardInterrupt:
                print()
                continue
            if not self.handle(line.strip()):
                break
        self.save_history()
        return 0

    def handle(self, line: str) -> bool:
        """Act on one input line; False means quit."""
        command = line.lower()
        if not line:
            return True
        if command in ("quit", "exit", ":q"):
            return False
        if command in ("help", "?"):
            print(HELP)
        elif command == "sources":
            print(self.sources())
        elif command == "reset":
            self.engine.reset(self.conversation)
            self.last, self.shown = None, 0
            print("Conversation reset.")
        elif command == "more":
            self.more()
        elif command == "explain" or command.startswith("explain "):
            self.explain(line[len("explain") :].strip())
        else:
            self.ask(line)
        sys.stdout.flush()
        return True

    def explain(self, question: str) -> None:
        """Explain `question` (or the last question, with the context it had) without taking a turn."""
        if question:
            previous = self.engine.conversations.previous(self.conversation)
        elif self.last is not None:
            question, previous = self.last.question, self.before_last
        else:
            print("Ask a question first, or type: explain QUESTION")
            return
        lines = self.engine.explain(question, limit=self.page_size, previous=previous)
        print(visible("\n".join(lines)))

    def ask(self, question: str) -> None:
        self.before_last = self.engine.conversations.previous(self.conversation)
        try:
            self.last = self.engine.answer(question, self.conversation, limit=self.limit)
        except BotError as exc:
            print(f"error: {visible(str(exc))}")
            return
        self.shown = 0
        self.more()

    def more(self) -> None:
        if self.last is None:
            print("Ask a question first.")
            return
        if self.shown and self.shown >= len(self.last.results):
            print(
                "No more results for this question."
                if self.last.results
                else "Nothing more: that question had no answer."
            )
            return
        print(format_answer(self.last, self.shown, self.page_size, self.ansi))
        print()
        self.shown += self.page_size

    def sources(self) -> str:
        lines = []
        for title, sections in self.engine.sections():
            lines.append(visible_line(title))
            lines.extend(f"  - {visible_line(s)}" for s in sections)
        return "\n".join(lines) or "No articles indexed."

    def setup_readline(self) -> None:
        if not self.interactive:
            return
        try:
            import readline
        except ImportError:  # not available on every platform
            return
        try:
            readline.read_history_file(self.history_file)
        except OSError:
            pass
        readline.set_history_length(1000)

    def save_history(self) -> None:
        if not self.interactive:
            return
        try:
            import readline

            self.history_file.parent.mkdir(parents=True, exist_ok=True)
            readline.write_history_file(self.history_file)
        except (ImportError, OSError):
            pass
