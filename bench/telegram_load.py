#!/usr/bin/env python3
"""Load and fault test of the Telegram bot: the real bot process, over HTTP, against the strict fake Bot API.

    .venv/bin/python bench/telegram_load.py [--chats 200] [--restart kill|term|none] [--seed 1] [--json FILE]
    .venv/bin/python bench/telegram_load.py --replicas 2     # two webhook processes on one Redis

With `--replicas 2` a redis-server is started on 127.0.0.1 (Debian's package), two bot processes run
in webhook mode with BOT_REDIS_URL set, and this script is their load balancer: each update is POSTed
to the replicas in turn, in order, and to the other one when a replica does not answer 200 (as
Telegram retries a failed delivery). The first replica is the one killed and restarted.

What it does, all on 127.0.0.1 and inside a temporary folder:

1. starts the fake Bot API (tests/botapi) with random faults: on sendMessage 429 (retry_after 1 s), HTTP
   500/502, connections reset before a response, and requests processed whose response is then lost
   ("dropped"); on getUpdates 500 and resets; on sendChatAction (the cosmetic "typing…") 500s;
2. starts the bot as its own process (`run_bot.py telegram`, as an operator would) on a copy of the seed
   article;
3. `--chats` private chats each ask three questions, the second a follow-up ("and d3?") sent within a
   second of the first, arriving over about ten seconds;
4. part-way through (after 40 % of the questions arrived) kills the bot with SIGKILL (or stops it with
   SIGTERM) and starts a new process at once;
5. waits until every question is answered or `--deadline` seconds pass, then prints what happened.

Each chat's expected answers come from the engine itself, asked the same questions in the same order,
so a follow-up answered without its context, or answers in the wrong order, show up. Counts:

- answered: questions whose expected answer arrived; lost: questions never answered;
- duplicated: answers that arrived more than once; of those, how many followed a response the fake
  server processed and then dropped (the Bot API has no way to de-duplicate a sendMessage), and how
  many were sent just before the kill and sent again by the new process (the answer was out, but the
  process died before crossing the update off);
- out of order: answers that arrived after the answer to a later question of the same chat;
- wrong: answers that fit no question of the chat (e.g. a follow-up answered without context);
- apologies: "Sorry, something went wrong" messages;
- latency: from the question's arrival at the fake server to its answer (seconds; includes the restart).
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

import httpx  # noqa: E402

from bot.config import Settings, env_flag  # noqa: E402
from bot.engine import Engine  # noqa: E402
from bot.telegram.handlers import SORRY  # noqa: E402
from tests.botapi.redis_server import RedisServer, free_port  # noqa: E402
from tests.botapi.server import FakeBotApi  # noqa: E402

SCRIPTS = (
    ("what foods have K2?", "and d3?", "how much magnesium should I take?"),
    ("which foods contain vitamin d3?", "and k2?", "how much magnesium should I take?"),
    ("how much magnesium should I take?", "what foods have K2?", "and d3?"),
)
SEND_FAULTS = {"429": 0.04, "500": 0.03, "502": 0.02, "reset": 0.03, "drop_after": 0.02}
POLL_FAULTS = {"500": 0.05, "reset": 0.03}
TYPING_FAULTS = {"500": 0.1}
NO_ANSWER = "no answer"
MAX_CHATS = 2000


@dataclass
class Question:
    chat: int
    n: int
    text: str
    expected: str
    pushed_at: float = 0.0


@dataclass
class Report:
    chats: int
    questions: int
    restart: str
    replicas: int = 1
    failovers: int = 0  # webhook deliveries a replica did not take (killed or starting), handed to the other
    answered: int = 0
    lost: int = 0
    duplicated: int = 0
    duplicated_after_lost_response: int = 0
    duplicated_across_the_restart: int = 0
    seconds_to_stop: float = 0.0  # from the signal to the old process's exit
    out_of_order: int = 0
    wrong: int = 0
    apologies: int = 0
    latency_s: dict[str, float] = field(default_factory=dict)
    answers_per_s: float = 0.0  # answered / (last first-arrival - first question pushed)
    bot_cpu_ms_per_answer: float = 0.0  # the bot processes' CPU time (user + system) per answer: machine-load-proof
    faults_injected: dict[str, int] = field(default_factory=dict)
    wall_s: float = 0.0


def answer_key(text: str) -> str:
    """What identifies an answer: its first result line, or that nothing was found."""
    for line in text.split("\n"):
        if line.startswith("1. "):
            return line
    return NO_ANSWER


def is_answer_end(text: str) -> bool:
    """The last message of an answer page (footer), or a no-answer reply."""
    return " of " in text.rsplit("\n", 1)[-1] or "couldn't find anything" in text or text.startswith("🤔")


def plan(chats: int, settings: Settings) -> list[Question]:
    """Every chat's questions with their expected answers (the engine asked in the same order)."""
    engine = Engine(settings)
    questions: list[Question] = []
    for chat in range(1, chats + 1):
        script = SCRIPTS[chat % len(SCRIPTS)]
        for n, text in enumerate(script):
            answer = engine.answer(text, ("plan", chat))
            expected = f"1. {answer.results[0].heading}" if answer.results else NO_ANSWER
            questions.append(Question(10_000 + chat, n, text, expected))
    keys: dict[int, list[str]] = {}
    for q in questions:
        keys.setdefault(q.chat, []).append(q.expected)
    if any(len(set(k)) != len(k) for k in keys.values()):
        raise SystemExit("error: a script's questions share an expected answer; pick distinct questions")
    return questions


def schedule(questions: list[Question], seed: int, spread: float) -> list[tuple[float, Question]]:
    """Arrival times: each chat starts at a random moment in `spread` seconds; its next questions follow within a
    second."""
    rng = random.Random(seed + 1)
    last: dict[int, float] = {}
    events: list[tuple[float, Question]] = []
    for q in sorted(questions, key=lambda q: (q.chat, q.n)):
        at = last[q.chat] + rng.uniform(0.2, 1.0) if q.chat in last else rng.uniform(0, spread)
        last[q.chat] = at
        events.append((at, q))
    return sorted(events, key=lambda e: e[0])


WEBHOOK_SECRET = "load-test-secret"


@dataclass
class Replica:
    """One bot process: its data folder, and in webhook mode its port and the Redis it shares."""

    data_dir: Path
    port: int = 0
    redis_url: str = ""

    @property
    def hook(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"


def start_bot(
    settings: Settings, server: FakeBotApi, log_file: Any, replica: Replica | None = None
) -> subprocess.Popen[bytes]:
    """`run_bot.py telegram` against the fake server (long polling, or a webhook replica), logging to `log_file`."""
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    env.update(
        TELEGRAM_BOT_TOKEN=server.token,
        TELEGRAM_API_URL=f"http://127.0.0.1:{server.port}",
        BOT_CORPUS_DIR=str(settings.corpus_dir),
        BOT_INDEX_DIR=str(settings.index_dir),
        BOT_DATA_DIR=str(replica.data_dir if replica else settings.data_dir),
        NO_PROXY="127.0.0.1",
    )
    command = [sys.executable, str(REPO_ROOT / "run_bot.py"), "telegram"]
    if replica is not None and replica.port:
        env.update(BOT_REDIS_URL=replica.redis_url, TELEGRAM_WEBHOOK_SECRET=WEBHOOK_SECRET)
        command += [
            "--webhook-url",
            "https://bot.example.com/hook",
            "--listen",
            "127.0.0.1",
            "--port",
            str(replica.port),
        ]
    return subprocess.Popen(
        command,
        env=env,
        cwd=REPO_ROOT,
        stdout=log_file,
        stderr=log_file,
    )


def stop(process: subprocess.Popen[bytes], how: str) -> float:
    """Kill (SIGKILL) or stop (SIGTERM, 10 s grace, then SIGKILL as a container platform would); seconds until it
    exited."""
    if process.poll() is not None:
        return 0.0
    began = time.monotonic()
    process.send_signal(signal.SIGKILL if how == "kill" else signal.SIGTERM)
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        print("the bot did not stop within 10 s: killed", file=sys.stderr)
        process.kill()
        process.wait(10)
    return time.monotonic() - began


class LoadBalancer:
    """Hands updates to the replicas' webhooks in turn, in arrival order, skipping one that fails."""

    def __init__(self, replicas: list[Replica]) -> None:
        self.replicas = replicas
        self.queue: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self.next = 0
        self.failovers = 0
        self.client = httpx.Client(trust_env=False, timeout=10)
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while (update := self.queue.get()) is not None:
            self._deliver(update)

    def _deliver(self, update: dict[str, Any]) -> None:
        deadline = time.monotonic() + 120
        failed = 0
        while time.monotonic() < deadline:
            replica = self.replicas[self.next % len(self.replicas)]
            self.next += 1
            try:
                answer = self.client.post(
                    replica.hook, json=update, headers={"X-Telegram-Bot-Api-Secret-Token": WEBHOOK_SECRET}
                )
                if answer.status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            self.failovers += 1
            failed += 1
            if failed % len(self.replicas) == 0:  # every replica refused it: wait a moment before the next round
                time.sleep(0.05)
        print(f"update {update['update_id']} could not be delivered", file=sys.stderr)

    def wait_until_ready(self, timeout: float = 120) -> None:
        """Until every replica's webhook answers (a GET is refused with 405 once the server is up)."""
        deadline = time.monotonic() + timeout
        for replica in self.replicas:
            while time.monotonic() < deadline:
                try:
                    self.client.get(replica.hook)
                    break
                except httpx.HTTPError:
                    time.sleep(0.1)

    def close(self) -> None:
        self.queue.put(None)
        self.thread.join(150)
        self.client.close()


def cpu_seconds(process: subprocess.Popen[bytes]) -> float:
    """CPU time (user + system) the process has used so far, from /proc (0 where there is none)."""
    try:
        fields = Path(f"/proc/{process.pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def delivered(server: FakeBotApi) -> dict[int, list[tuple[float, str, bool]]]:
    """Per chat, every answer that reached the user: (when, key, whether its response was lost)."""
    out: dict[int, list[tuple[float, str, bool]]] = {}
    pending: dict[int, str] = {}
    for call in server.calls_of("sendMessage"):
        if not isinstance(call.result, dict):
            continue  # not processed
        chat = int(call.params["chat_id"])
        text = str(call.result.get("text", ""))
        pending[chat] = pending.get(chat, "") + text + "\n"
        if is_answer_end(text):
            out.setdefault(chat, []).append((call.at, answer_key(pending.pop(chat)), not call.ok))
    return out


def answered_count(questions: list[Question], server: FakeBotApi) -> int:
    """Questions whose expected answer has arrived (each counted once)."""
    got = {(chat, key) for chat, arrivals in delivered(server).items() for _, key, _ in arrivals}
    return sum((q.chat, q.expected) in got for q in questions)


def measure(questions: list[Question], server: FakeBotApi, report: Report, restarted_at: float) -> None:
    """Fill in the counts and latencies."""
    got = delivered(server)
    latencies: list[float] = []
    last_at = 0.0
    by_chat: dict[int, list[Question]] = {}
    for q in questions:
        by_chat.setdefault(q.chat, []).append(q)
    for chat, asked in by_chat.items():
        asked.sort(key=lambda q: q.n)
        expected = {q.expected: q for q in asked}
        arrivals = got.get(chat, [])
        seen: set[str] = set()
        order: list[int] = []
        lost_response: set[str] = set()
        first_at: dict[str, float] = {}
        for at, key, response_lost in arrivals:
            if key not in expected:
                report.wrong += 1
                continue
            if key in seen:
                report.duplicated += 1
                report.duplicated_after_lost_response += key in lost_response
                report.duplicated_across_the_restart += key not in lost_response and first_at[key] <= restarted_at < at
                continue
            seen.add(key)
            first_at[key] = at
            if response_lost:
                lost_response.add(key)
            order.append(expected[key].n)
            latencies.append(at - expected[key].pushed_at)
            last_at = max(last_at, at)
        if os.environ.get("LOAD_DEBUG") and (len(seen) < len(asked) or len(arrivals) > len(asked)):
            print(
                chat, [(q.n, q.text, q.expected, round(q.pushed_at - restarted_at, 2)) for q in asked], file=sys.stderr
            )
            print("   ", [(round(at - restarted_at, 2), key, lost) for at, key, lost in arrivals], file=sys.stderr)
        report.answered += len(seen)
        report.lost += len(asked) - len(seen)
        report.out_of_order += sum(1 for i, n in enumerate(order) if any(m > n for m in order[:i]))
    report.apologies = sum(SORRY in m.get("text", "") for m in server.sent_messages())
    first_push = min(q.pushed_at for q in questions)
    if last_at > first_push:
        report.answers_per_s = round(report.answered / (last_at - first_push), 1)
    if latencies:
        cuts = statistics.quantiles(latencies, n=100, method="inclusive")
        report.latency_s = {
            "p50": round(cuts[49], 2),
            "p90": round(cuts[89], 2),
            "p95": round(cuts[94], 2),
            "p99": round(cuts[98], 2),
            "max": round(max(latencies), 2),
        }
    faults: dict[str, int] = {}
    for call in server.calls:
        if call.ok:
            continue
        kind = (
            "429"
            if call.status == 429
            else str(call.status)
            if call.status >= 500
            else (call.error or "other").split(",")[0]
        )
        faults[f"{call.method} {kind}"] = faults.get(f"{call.method} {kind}", 0) + 1
    report.faults_injected = dict(sorted(faults.items()))


def run(args: argparse.Namespace) -> Report:
    chats = min(args.chats, MAX_CHATS)
    work = Path(tempfile.mkdtemp(prefix="telegram-load-"))
    corpus = work / "corpus"
    corpus.mkdir()
    for name in ("vitamin-k2-d3-bone-density.txt", "synonyms.conf"):
        shutil.copy(REPO_ROOT / "corpus" / name, corpus / name)
    semantic = env_flag("BOT_SEMANTIC", True)  # the bot process reads it too: the planned index must be the same
    settings = Settings(corpus_dir=corpus, index_dir=work / "index", data_dir=work / "data", semantic=semantic)
    questions = plan(chats, settings)  # also builds the index, so start-up does not
    events = schedule(questions, args.seed, args.spread)
    report = Report(chats, len(questions), args.restart, args.replicas)
    log_path = work / "bot.log"
    began = time.monotonic()
    with FakeBotApi() as server, open(log_path, "wb") as log_file:
        server.max_poll_timeout = 1.0
        for chat in {q.chat for q in questions}:
            server.register_chat(chat)
        if not args.no_faults:
            server.set_fault_rates("sendMessage", SEND_FAULTS, seed=args.seed)
            server.set_fault_rates("getUpdates", POLL_FAULTS, seed=args.seed + 2)
            server.set_fault_rates("sendChatAction", TYPING_FAULTS, seed=args.seed + 3)
        redis_server = None
        replicas = [Replica(settings.data_dir)]
        if args.replicas > 1:
            redis_server = RedisServer(shutil.which("redis-server") or "redis-server").start()
            replicas = [Replica(work / f"data-{n}", free_port(), redis_server.url) for n in range(args.replicas)]
        bots = [start_bot(settings, server, log_file, r) for r in replicas]
        balancer = LoadBalancer(replicas) if args.replicas > 1 else None
        if balancer is not None:
            balancer.wait_until_ready()
        cpu = 0.0
        restart_at = int(len(events) * 0.4) if args.restart != "none" else -1
        restarted_at = float("inf")
        t0 = time.monotonic()
        for i, (at, q) in enumerate(events):
            delay = t0 + at - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            if i == restart_at:
                print(f"{args.restart} the bot after {i} of {len(events)} questions", file=sys.stderr)
                restarted_at = time.monotonic()
                cpu += cpu_seconds(bots[0])
                report.seconds_to_stop = round(stop(bots[0], args.restart), 2)
                bots[0] = start_bot(settings, server, log_file, replicas[0])
            q.pushed_at = time.monotonic()
            pushed = server.push_message(q.text, user_id=q.chat, chat_id=q.chat)
            if balancer is not None:
                balancer.queue.put(pushed)
        deadline = time.monotonic() + args.deadline
        while time.monotonic() < deadline:
            if answered_count(questions, server) >= len(questions):
                time.sleep(1.0)  # late duplicates
                break
            time.sleep(0.2)
        for bot in bots:
            cpu += cpu_seconds(bot)
            stop(bot, "term")
        if balancer is not None:
            balancer.close()
            report.failovers = balancer.failovers
        if redis_server is not None:
            redis_server.stop()
        measure(questions, server, report, restarted_at)
        report.bot_cpu_ms_per_answer = round(1000 * cpu / max(1, report.answered), 1)
        if args.keep:
            dump = {
                "calls": [
                    (
                        c.method,
                        c.params.get("chat_id"),
                        c.ok,
                        c.error,
                        c.at,
                        (c.result or {}).get("text", "")[:60] if isinstance(c.result, dict) else None,
                    )
                    for c in server.calls
                    if c.method != "getUpdates"
                ],
                "questions": [asdict(q) for q in questions],
                "restarted_at": restarted_at,
            }
            (work / "calls.json").write_text(json.dumps(dump, default=str))
        report.wall_s = round(time.monotonic() - began, 1)
        rejected = server.rejections
        if rejected:
            print(
                f"warning: the fake Bot API rejected {len(rejected)} request(s)\n{server.describe_recent()}",
                file=sys.stderr,
            )
    if args.keep:
        print(f"work folder kept: {work} (bot log: {log_path})", file=sys.stderr)
    else:
        shutil.rmtree(work, ignore_errors=True)
    return report


FLOOD_CHAT = 9_000
FLOOD_OTHERS = 10
FLOOD_QUESTION = "what foods have K2?"
OTHER_QUESTION = "which foods contain vitamin d3?"


def ask_and_time(server: FakeBotApi, chats: list[int], timeout: float = 120) -> list[float]:
    """Each chat asks one question at once; seconds until each chat's answer arrived."""
    before = {chat: len(server.sent_messages(chat)) for chat in chats}
    asked = time.monotonic()
    for chat in chats:
        server.push_message(OTHER_QUESTION, user_id=chat, chat_id=chat)
    waits: dict[int, float] = {}
    while len(waits) < len(chats) and time.monotonic() - asked < timeout:
        for chat in chats:
            if chat not in waits and any(
                is_answer_end(m.get("text", "")) for m in server.sent_messages(chat)[before[chat] :]
            ):
                waits[chat] = time.monotonic() - asked
        time.sleep(0.02)
    return [waits.get(chat, float("inf")) for chat in chats]


def run_flood(args: argparse.Namespace) -> dict[str, Any]:
    """Fairness: other chats' wait for an answer, idle and while one chat floods the bot with `args.flood` messages."""
    work = Path(tempfile.mkdtemp(prefix="telegram-flood-"))
    corpus = work / "corpus"
    corpus.mkdir()
    for name in ("vitamin-k2-d3-bone-density.txt", "synonyms.conf"):
        shutil.copy(REPO_ROOT / "corpus" / name, corpus / name)
    settings = Settings(
        corpus_dir=corpus, index_dir=work / "index", data_dir=work / "data", semantic=env_flag("BOT_SEMANTIC", True)
    )
    Engine(settings).open()  # builds the index, so start-up does not
    result: dict[str, Any] = {"flood_messages": args.flood}
    with FakeBotApi() as server, open(work / "bot.log", "wb") as log_file:
        server.max_poll_timeout = 1.0
        others = [FLOOD_CHAT + 1 + n for n in range(FLOOD_OTHERS)]
        for chat in [FLOOD_CHAT, *others]:
            server.register_chat(chat)
        bot = start_bot(settings, server, log_file)
        try:
            ask_and_time(server, [others[0]])  # warm up: the first answer loads what a question needs
            idle = ask_and_time(server, others)
            flood_at = time.monotonic()
            for _ in range(args.flood):
                server.push_message(FLOOD_QUESTION, user_id=FLOOD_CHAT, chat_id=FLOOD_CHAT)
            while server.pending_update_count and time.monotonic() - flood_at < 120:
                time.sleep(0.02)  # Telegram hands updates over in order: the others' come after the whole flood
            result["flood_received_s"] = round(time.monotonic() - flood_at, 2)
            flooded = ask_and_time(server, others)
            answered = sum(is_answer_end(m.get("text", "")) for m in server.sent_messages(FLOOD_CHAT))
        finally:
            stop(bot, "kill")
    if all(w < float("inf") for w in idle + flooded) and not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    else:
        print(f"work folder kept: {work}", file=sys.stderr)
    result.update(
        idle_wait_s={"p50": round(statistics.median(idle), 2), "max": round(max(idle), 2)},
        flood_wait_s={"p50": round(statistics.median(flooded), 2), "max": round(max(flooded), 2)},
        flood_answers_by_then=answered,
        within_2x_idle=max(flooded) <= 2 * max(idle) < float("inf"),
    )
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--chats", type=int, default=200, help=f"private chats, three questions each (at most {MAX_CHATS})"
    )
    parser.add_argument(
        "--restart", choices=("kill", "term", "none"), default="kill", help="how to stop the bot mid-load"
    )
    parser.add_argument("--spread", type=float, default=10.0, help="seconds over which the chats start")
    parser.add_argument(
        "--deadline", type=float, default=120.0, help="seconds to wait for answers after the last question"
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--flood", type=int, default=0, help="fairness run instead: one chat sends this many messages at once"
    )
    parser.add_argument(
        "--replicas", type=int, choices=(1, 2), default=1, help="2: two webhook processes on one Redis (see above)"
    )
    parser.add_argument("--no-faults", action="store_true", help="no injected Bot API faults")
    parser.add_argument("--keep", action="store_true", help="keep the work folder and the bot's log")
    parser.add_argument("--json", type=Path, help="also write the report as JSON")
    args = parser.parse_args()
    args.deadline = min(max(args.deadline, 1.0), 600.0)
    if args.flood:
        flood = run_flood(args)
        for key, value in flood.items():
            print(f"{key:<22}  {value}")
        if args.json:
            args.json.write_text(json.dumps(flood, indent=2))
        return 0 if flood["within_2x_idle"] else 1
    report = run(args)
    width = max(len(k) for k in asdict(report))
    for key, value in asdict(report).items():
        print(f"{key:<{width}}  {value}")
    if args.json:
        args.json.write_text(json.dumps(asdict(report), indent=2))
    return 0 if report.lost == 0 and report.out_of_order == 0 and report.wrong == 0 and report.apologies == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
