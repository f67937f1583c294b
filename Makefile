# The two commands a user needs: `make serve` and `make test`. Both create .venv themselves.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: serve test test-fast lint typecheck openapi clean bench bench-fraud

$(STAMP): pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test,dev]'
	touch $(STAMP)

serve: $(STAMP)
	$(BIN)/verify-service serve $(if $(CONFIG),--config $(CONFIG),)

test: $(STAMP)
	$(BIN)/pytest -q $(PYTEST_ARGS)

# The unit and API tests on fakeredis: no redis-server, no processes, nothing slow by design.
test-fast: $(STAMP)
	$(BIN)/pytest -q tests/unit tests/api -m "not redis and not system and not slow" $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

openapi: $(STAMP)
	$(BIN)/verify-service openapi > openapi.yaml

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache

bench: $(STAMP)
	$(BIN)/python bench/run.py $(BENCH_ARGS)

# The pumping guard on simulated traffic (docs/fraud.md): seeded, a few minutes.
bench-fraud: $(STAMP)
	$(BIN)/python bench/fraud_sim.py $(BENCH_FRAUD_ARGS)
