# Quick start: `make run` (REPL, or the Telegram bot when TELEGRAM_BOT_TOKEN is set) and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: run test setup reindex eval bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $@

setup: $(VENV)/.installed

run: setup
	$(BIN)/python run_bot.py

test: setup
	$(BIN)/python -m pytest

reindex: setup
	$(BIN)/python run_bot.py reindex

eval: setup
	$(BIN)/python run_bot.py eval

bench: setup
	$(BIN)/python tests/bench.py

clean:
	rm -rf $(VENV) index/manifest.json index/build-* data
