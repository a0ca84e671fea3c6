# The two commands of the README's quick start, and a few more for developers.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin

.PHONY: run test test-all lint fuzz soak crash clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# torch first and pinned: pip then takes the CPU build instead of a multi-GB CUDA one.
# medspaCy last and without its dependencies, so it cannot be an extra in pyproject.toml: it
# requires PyRuSH, whose spacy<3.8 (on Python < 3.12) would downgrade spaCy, thinc and numpy
# under everything else, and which logs tokens through loguru. medmaas uses only medspaCy's
# ConText, Sectionizer and TargetMatcher, which need nothing but spaCy (in the text extra);
# medmaas/text/entities/_medspacy.py imports it without PyRuSH and QuickUMLS.
$(VENV)/.installed: pyproject.toml Makefile | $(BIN)/python
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[all,test]'
	$(BIN)/pip install --quiet --no-deps medspacy==1.3.1
	touch $@

run: $(VENV)/.installed   ## the service with its built-in models on http://127.0.0.1:8000
	$(BIN)/medmaas serve

test: $(VENV)/.installed  ## the default test run (unit + integration, PostgreSQL on loopback)
	./scripts/test.sh

test-all: $(VENV)/.installed  ## everything, slow tests included
	./scripts/test.sh -m ""

# The trust suites' long runs (numbers in SECURITY.md); the default test run does a bounded part.
fuzz: $(VENV)/.installed  ## parser fuzzing (100,000 inputs per reader) and schema fuzzing of the live API (>= 2,000 requests)
	MEDMAAS_FUZZ_EXAMPLES=100000 $(BIN)/python -m pytest -p no:cacheprovider --timeout=0 -q \
	  --hypothesis-show-statistics tests/unit/test_parser_fuzz.py tests/unit/test_parser_fuzz_files.py
	MEDMAAS_SCHEMA_EXAMPLES=100 $(BIN)/python -m pytest -p no:cacheprovider --timeout=0 -q -s \
	  tests/integration/test_schema_fuzz.py

crash: $(VENV)/.installed  ## 50 SIGKILL/restart cycles of a live server under load, integrity checked after each
	MEDMAAS_CRASH_CYCLES=50 $(BIN)/python -m pytest -p no:cacheprovider --timeout=0 -q -s \
	  tests/integration/test_crash_safety.py

soak: $(VENV)/.installed  ## 10 minutes at 80% of measured capacity on loopback: errors, p99, RSS (ARGS="--duration 60")
	$(BIN)/pip install --quiet -e '.[load]'
	$(BIN)/python -m benchmarks.soak.run $(ARGS)

lint: $(VENV)/.installed
	$(BIN)/ruff check src tests

clean:
	rm -rf $(VENV) .medmaas .pytest_cache

.PHONY: bench-serving
bench-serving: $(VENV)/.installed  ## serving speed: medmaas vs FastAPI, MLflow, BentoML, a bare ASGI ceiling (~21 min)
	$(BIN)/python -m benchmarks.serving.run
