# Developer and CI entry points. Needs only Python 3.11+ and GNU make:
# PostgreSQL and Redis are started embedded when DATABASE_URL / REDIS_URL
# are unset or unreachable (see scripts/devstack.py).

PY ?= python3
VENV := .venv
VPY := $(VENV)/bin/python
DEVSTACK := $(VPY) scripts/devstack.py
PYTEST_ARGS ?=
# Settings are imported by mypy's Django plugin; they need parseable URLs only.
LINT_ENV := DATABASE_URL=postgres://lint@localhost/lint REDIS_URL=redis://localhost:6379/0

.PHONY: install run test lint bench clean clean-data

$(VENV)/.installed: pyproject.toml
	$(PY) -m venv $(VENV)
	$(VPY) -m pip install --quiet --upgrade pip
	$(VPY) -m pip install --quiet -e '.[dev]'
	touch $@

install: $(VENV)/.installed

run: install
	$(DEVSTACK) run

test: install
	$(DEVSTACK) exec -- $(VPY) -m pytest $(PYTEST_ARGS)

lint: install
	$(VPY) -m ruff check .
	$(VPY) -m ruff format --check .
	$(LINT_ENV) $(VPY) -m mypy .

# The benchmark scripts: those that run as a program (the rest of bench/ is their shared code).
BENCHES = $(shell grep -l '__name__ == "__main__"' bench/*.py)

bench: install
	$(DEVSTACK) exec -- sh -c 'set -e; for f in $(BENCHES); do echo "== $$f"; $(VPY) "$$f"; done'

clean:
	rm -rf .pytest_cache .mypy_cache .ruff_cache .hypothesis build *.egg-info
	find . -path ./$(VENV) -prune -o -type d -name __pycache__ -exec rm -rf {} +

# Removes the `make run` database, Redis data and dev secrets in .devstack/.
clean-data:
	rm -rf .devstack
