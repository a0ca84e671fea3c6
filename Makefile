# The two commands of the README's quick start, and a few more for developers.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin

.PHONY: run test test-all lint fuzz clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# torch first and pinned: pip then takes the CPU build instead of a multi-GB CUDA one.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[all,test]'
	touch $@

run: $(VENV)/.installed   ## the service with its built-in models on http://127.0.0.1:8000
	$(BIN)/medmaas serve

test: $(VENV)/.installed  ## the default test run (unit + integration, PostgreSQL on loopback)
	./scripts/test.sh

test-all: $(VENV)/.installed  ## everything, slow tests included
	./scripts/test.sh -m ""

lint: $(VENV)/.installed
	$(BIN)/ruff check src tests

clean:
	rm -rf $(VENV) .medmaas .pytest_cache

.PHONY: bench-serving
bench-serving: $(VENV)/.installed  ## serving speed: medmaas vs FastAPI, MLflow, BentoML, a bare ASGI ceiling (~21 min)
	$(BIN)/python -m benchmarks.serving.run
