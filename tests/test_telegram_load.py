"""The load-and-fault script stays runnable: a small run (kill mid-load, random Bot API faults) loses nothing."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def small_load_run(tmp_path: Path, *options: str) -> dict[str, int]:
    """bench/telegram_load.py with 12 chats (36 questions), faults and a kill mid-load; its JSON report."""
    report_file = tmp_path / "report.json"
    run = subprocess.run(
        [
            sys.executable,
            str(REPO / "bench" / "telegram_load.py"),
            "--chats",
            "12",
            "--spread",
            "2",
            "--deadline",
            "60",
            "--json",
            str(report_file),
            *options,
        ],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=150,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    report: dict[str, int] = json.loads(report_file.read_text())
    return report


def test_a_small_load_run_with_faults_and_a_kill_loses_nothing(tmp_path: Path) -> None:
    report = small_load_run(tmp_path)
    assert report["answered"] == report["questions"] == 36
    assert report["lost"] == report["out_of_order"] == report["wrong"] == report["apologies"] == 0


@pytest.mark.timeout(180)
@pytest.mark.skipif(shutil.which("redis-server") is None, reason="redis-server is not installed (Debian: redis-server)")
def test_two_replicas_on_redis_with_one_killed_mid_load_lose_nothing(tmp_path: Path) -> None:
    """Updates delivered round-robin to two webhook processes on one Redis; the first is SIGKILLed and restarted."""
    report = small_load_run(tmp_path, "--replicas", "2")
    assert report["replicas"] == 2
    assert report["answered"] == report["questions"] == 36
    assert report["lost"] == report["out_of_order"] == report["wrong"] == report["apologies"] == 0
