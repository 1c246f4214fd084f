# Two commands do all set-up on a fresh machine with Python 3.11 and make:
#   make demo   – the whole stack in paper mode on embedded NATS + PostgreSQL
#   make test   – lint, types, import layers and the whole test suite
SHELL := /bin/bash
PYTHON ?= python3
UV := $(PYTHON) -m uv

.PHONY: bootstrap demo test lint bench

bootstrap:
	@$(UV) --version >/dev/null 2>&1 || $(PYTHON) -m pip install --quiet uv
	$(UV) sync --frozen --all-packages

demo: bootstrap
	$(UV) run --frozen polybot up --config config/demo.toml

lint: bootstrap
	$(UV) run --frozen ruff check libs services tests bench
	$(UV) run --frozen mypy libs/polybot-core/src
	MYPYPATH=libs/polybot-core/src $(UV) run --frozen mypy services/gamma-sync/src/polybot_gamma_sync \
		services/ingestor/src/polybot_ingestor services/quoter/src/polybot_quoter services/executor/src/polybot_executor
	cd services/polysim/src && MYPYPATH=. $(UV) run --frozen mypy --strict -p polysim
	$(UV) run --frozen lint-imports

test: lint
	$(UV) run --frozen pytest -q tests; rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests: failing"; exit 1; fi; exit $$rc

bench: bootstrap
	@for b in bench/*.py; do echo "== $$b"; $(UV) run --frozen python $$b || exit 1; done
