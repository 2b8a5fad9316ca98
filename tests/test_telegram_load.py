"""The load-and-fault script stays runnable: a small run (kill mid-load, random Bot API faults) loses nothing."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def test_a_small_load_run_with_faults_and_a_kill_loses_nothing(tmp_path: Path) -> None:
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
        ],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    report = json.loads(report_file.read_text())
    assert report["answered"] == report["questions"] == 36
    assert report["lost"] == report["out_of_order"] == report["wrong"] == report["apologies"] == 0
