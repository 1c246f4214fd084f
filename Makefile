# Two commands do all set-up on a fresh machine with Python 3.11 and make:
#   make demo   – the whole stack in paper mode on embedded NATS + PostgreSQL
#   make test   – lint, types, import layers and the whole test suite
SHELL := /bin/bash
PYTHON ?= python3
UV := $(PYTHON) -m uv

.PHONY: bootstrap system-tools demo test lint bench

bootstrap: system-tools
	@$(UV) --version >/dev/null 2>&1 || $(PYTHON) -m pip install --quiet uv
	$(UV) sync --frozen --all-packages

# System tools the tests use (Debian packages): docker-compose validates docker-compose.yml; prometheus (with
# promtool) checks the scrape config and the alert rules and evaluates every dashboard query. Installed when
# missing and we are root (CI and these machines); otherwise the tests that need one fail saying so.
SYSTEM_TOOLS := docker-compose:docker-compose prometheus:prometheus promtool:prometheus
system-tools:
	@missing=""; for pair in $(SYSTEM_TOOLS); do cmd=$${pair%%:*}; pkg=$${pair##*:}; \
		command -v $$cmd >/dev/null 2>&1 || missing="$$missing $$pkg"; done; \
	missing=$$(echo $$missing | tr ' ' '\n' | sort -u | tr '\n' ' '); \
	if [ -n "$${missing// /}" ]; then \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
			echo "installing$$missing(apt-get)"; \
			apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null \
				|| echo "WARNING: could not install$$missing; the tests that need them will fail"; \
		else echo "WARNING: missing$$missing and not root: install them (Debian: apt-get install$$missing)"; fi; \
	fi

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
	@for b in $(filter-out bench/ws_feed.py bench/quote_feed.py,$(wildcard bench/*.py)); do echo "== $$b"; $(UV) run --frozen python $$b || exit 1; done  # the feeders: ingest.py's and quote.py's children
