# Quick start: `make run` (REPL, or the Telegram bot when TELEGRAM_BOT_TOKEN is set) and `make test`.
# setup installs the package into $(VENV), with the `article-qa` command ($(BIN)/article-qa).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: run test setup reindex fit eval bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: pyproject.toml Makefile | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]"
	$(BIN)/python -m compileall -q bot  # byte code now, for environments that set PYTHONDONTWRITEBYTECODE
	touch $@

setup: $(VENV)/.installed

run: setup
	$(BIN)/article-qa

# lint, format and types first (fail fast), then the tests on two cores, an idle worker taking queued tests from
# the other (TEST_WORKERS=0 runs them in one process)
TEST_WORKERS ?= 2
test: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist worksteal

reindex: setup
	$(BIN)/python run_bot.py reindex

# Refit the ranking model on the shared training split (../shared/benchmarks/medquad/train); writes bot/data/ranking-model.json
fit: setup
	$(BIN)/python -m bot.ranking.fit

# dev.jsonl on corpus/, then multi.jsonl and holdout.jsonl on corpus/ plus the fixture articles, dev.jsonl again
# on corpus/ plus the magnesium and omega-3 fixtures, then the shared MedQuAD/LiveQA sets, then dev.jsonl
# on corpus/ plus the shared MedQuAD pages
eval: setup
	$(BIN)/python run_bot.py eval --quiet
	@tmp=$$(mktemp -d) && mkdir $$tmp/corpus && cp corpus/* tests/fixtures/articles/* $$tmp/corpus/ && \
	for set in multi holdout; do \
		echo "== $$set.jsonl (corpus/ plus tests/fixtures/articles/)"; \
		$(BIN)/python run_bot.py eval tests/eval/$$set.jsonl --corpus $$tmp/corpus --index $$tmp/index --quiet || exit 1; \
	done; rm -rf $$tmp
	@tmp=$$(mktemp -d) && mkdir $$tmp/corpus && cp corpus/* tests/fixtures/topics/* $$tmp/corpus/ && \
	echo "== dev.jsonl (corpus/ plus tests/fixtures/topics/: a magnesium and an omega-3 article)" && \
	$(BIN)/python run_bot.py eval tests/eval/dev.jsonl --corpus $$tmp/corpus --index $$tmp/index --quiet; rc=$$?; rm -rf $$tmp; exit $$rc
	@tmp=$$(mktemp -d) && mkdir $$tmp/corpus && cp corpus/* tests/fixtures/fresh/* $$tmp/corpus/ && \
	echo "== fresh.jsonl (corpus/ plus tests/fixtures/fresh/: written by someone who had not seen the code)" && \
	$(BIN)/python run_bot.py eval tests/eval/fresh.jsonl --corpus $$tmp/corpus --index $$tmp/index --quiet; rc=$$?; rm -rf $$tmp; exit $$rc
	@tmp=$$(mktemp -d) && mkdir $$tmp/corpus && cp corpus/* tests/fixtures/fresh2/* $$tmp/corpus/ && \
	echo "== fresh2.jsonl (corpus/ plus tests/fixtures/fresh2/: a second set by someone who had not seen the code)" && \
	$(BIN)/python run_bot.py eval tests/eval/fresh2.jsonl --corpus $$tmp/corpus --index $$tmp/index --quiet; rc=$$?; rm -rf $$tmp; exit $$rc
	@echo "== shared benchmarks (../shared/benchmarks/medquad or BOT_BENCHMARKS_DIR), beside plain rank-bm25"
	$(BIN)/python run_bot.py eval --benchmarks
	@med=$${BOT_BENCHMARKS_DIR:-../shared/benchmarks/medquad}/corpus-dev; \
	if [ -d "$$med" ]; then \
		tmp=$$(mktemp -d) && mkdir $$tmp/corpus && cp corpus/* "$$med"/* $$tmp/corpus/ && \
		echo "== dev.jsonl (corpus/ plus the 153 MedQuAD pages of $$med: the seed among many health articles)" && \
		$(BIN)/python run_bot.py eval tests/eval/dev.jsonl --corpus $$tmp/corpus --index $$tmp/index --quiet; rc=$$?; rm -rf $$tmp; exit $$rc; \
	else echo "note: $$med not found; the seed-among-many-articles check is skipped"; fi

# The side-by-side benchmark (bench/run.py): this bot against rank-bm25, bm25s, tantivy and SQLite FTS5
# on MedQuAD corpora of about 1k and 10k passages. More: make bench BENCH_ARGS="--sizes 1k,10k,100k --json bench.json"
$(VENV)/.bench-installed: pyproject.toml $(VENV)/.installed
	$(BIN)/python -m pip install --quiet -e ".[bench]"
	touch $@

bench: $(VENV)/.bench-installed
	$(BIN)/python bench/run.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) index/manifest.json index/build-* data
