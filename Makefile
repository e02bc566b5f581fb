# safeloop — two commands for a newcomer: `make run` and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=

# `make run` is the embedded demo: SQLite next to the code, a known admin token.
RUN_ENV := SAFELOOP_DATABASE_URL=$${SAFELOOP_DATABASE_URL:-sqlite:///./var/safeloop.db} \
	SAFELOOP_UPLOAD_DIR=$${SAFELOOP_UPLOAD_DIR:-./var/uploads} \
	SAFELOOP_ADMIN_TOKEN=$${SAFELOOP_ADMIN_TOKEN:-demo-admin-token} \
	SAFELOOP_LOG_FORMAT=$${SAFELOOP_LOG_FORMAT:-text}

.PHONY: run test faults lint format bench clean messages

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

run: $(STAMP)
	@$(RUN_ENV) $(BIN)/safeloop demo --if-empty
	@echo ""
	@echo "safeloop is starting on http://127.0.0.1:8000  (API docs: http://127.0.0.1:8000/docs)"
	@echo "admin token: $${SAFELOOP_ADMIN_TOKEN:-demo-admin-token}   (a person's token: $(BIN)/safeloop token create PERSON)"
	@echo "web logins (http://127.0.0.1:8000/login): the demo users above, password safeloop-demo"
	@echo "  e.g. ZC1-4 worker, X01 info office, ZC1-1 unit head, A01 safety dept, L05 leader, X04 auditor"
	@$(RUN_ENV) $(BIN)/safeloop serve

test: $(STAMP)
	$(BIN)/pytest -n 2 $(PYTEST_ARGS)

# crash, outage, contention, schema fuzzing and access probes: real processes, minutes
faults: $(STAMP)
	$(BIN)/pytest -m faults tests/faults $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# every figure as measured / baseline, small sizes by default (a few minutes);
# BENCH_SCALE=20 multiplies every script's default size (each script's --size sets one)
BENCH_SCALE ?= 1
bench: $(STAMP)
	@for script in bench/[!_]*.py; do echo "== $$script"; \
		$(BIN)/python $$script --scale $(BENCH_SCALE) || exit 1; done

# refresh the pages' message catalogues after changing texts (then translate the new entries)
messages: $(STAMP)
	cd api/web && ../../$(BIN)/pybabel extract -F babel.cfg -k N_ --no-location -o messages.pot . \
		&& ../../$(BIN)/pybabel update -i messages.pot -d locale -l zh_CN --ignore-obsolete \
		&& rm messages.pot

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
