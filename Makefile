# The two commands a user needs: `make serve` and `make test`. Both create .venv themselves.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
RUNTIME_STAMP := $(VENV)/.installed-runtime
# Installs come from the hash-pinned locks in requirements/ (refresh: `make lock`).
PIP_LOCKED := $(BIN)/pip install --quiet --disable-pip-version-check --require-hashes --no-deps
HOST ?= 127.0.0.1
PORT ?= 8080

.PHONY: serve test test-fast lint typecheck openapi clean bench bench-fraud

# Serving needs the runtime dependencies only; the test and dev extras come with $(STAMP).
$(RUNTIME_STAMP): requirements/runtime.lock pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(PIP_LOCKED) -r requirements/runtime.lock
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	touch $(RUNTIME_STAMP)

$(STAMP): requirements/dev.lock $(RUNTIME_STAMP)
	$(PIP_LOCKED) -r requirements/dev.lock
	touch $(STAMP)

serve: $(RUNTIME_STAMP)
	$(BIN)/verify-service serve --host $(HOST) --port $(PORT) $(if $(CONFIG),--config $(CONFIG),)

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

.PHONY: lock docs-assets
# Re-resolve the locks from pyproject.toml (newest versions allowed by its ranges), for
# Python 3.11+ on any platform; dev.lock keeps runtime.lock's versions. Commit both.
LOCK := $(BIN)/uv pip compile --quiet --universal --python-version 3.11 --generate-hashes --no-header
lock: $(STAMP)
	$(LOCK) --upgrade pyproject.toml requirements/build.in -o requirements/runtime.lock
	$(LOCK) --upgrade --extra test --extra dev -c requirements/runtime.lock \
		pyproject.toml requirements/build.in -o requirements/dev.lock

# Swagger UI's files for /docs, from the npm lock in tools/docs_assets (needs npm).
docs-assets: $(STAMP)
	$(BIN)/python tools/docs_assets/vendor.py

# The pumping guard on simulated traffic (docs/fraud.md): seeded, a few minutes.
bench-fraud: $(STAMP)
	$(BIN)/python bench/fraud_sim.py $(BENCH_FRAUD_ARGS)
