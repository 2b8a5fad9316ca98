#!/usr/bin/env python3
"""Entry point: `python run_bot.py [reindex|ask|repl|eval|stats|telegram] ...` (see README)."""

import sys

from bot.cli import main

if __name__ == "__main__":
    sys.exit(main())
