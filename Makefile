# One command per habit. `make help` lists them.
VENV ?= .venv
PY := $(VENV)/bin/python
export KAFKA_BOOTSTRAP_SERVERS ?=

# The locks (requirements/): every version, with its hashes, that `make install` (dev.lock)
# and the Docker image (all.lock) install. pyproject.toml keeps the compatible ranges for
# users; the locks pin one resolution of them, so a new upstream release changes nothing
# here until `make upgrade` takes it. Installing needs only pip; uv resolves the locks and
# comes from PyPI, pinned in requirements/tools.lock, into a venv of its own.
DEV_LOCK := requirements/dev.lock
IMAGE_LOCK := requirements/all.lock
TOOLS_LOCK := requirements/tools.lock
UV := $(VENV)/tools/bin/uv
# One universal resolution (every platform, Python >= 3.11): one lock for Linux, macOS, Windows.
LOCK_FLAGS := --quiet --universal --generate-hashes --python-version 3.11 --custom-compile-command 'make lock'
# The tests that fail when an SDK, aiokafka or redis-py release adds an exception class
# nobody has mapped (selected by name, wherever their files live).
COMPLETENESS := every_sdk_exception_class_is_mapped or every_redis_exception_class_is_translated or every_aiokafka_exception_class_is_mapped
# The Docker base image, pinned by digest in the Dockerfile; `make upgrade` refreshes it.
BASE_IMAGE := python:3.11-slim

.DEFAULT_GOAL := help

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-8s %s\n", $$1, $$2}'

$(VENV)/.installed: $(DEV_LOCK) pyproject.toml
	test -d $(VENV) || python3 -m venv $(VENV)
	# exactly the locked versions, each checked against its hashes (pip and setuptools too)
	$(PY) -m pip install -q --require-hashes -r $(DEV_LOCK)
	# then the project alone, built by the locked setuptools; compat mode: new top-level
	# modules are importable without reinstalling
	$(PY) -m pip install -q --no-deps --no-build-isolation -e . --config-settings editable_mode=compat
	$(PY) -m pip check
	touch $@

install: $(VENV)/.installed ## Create .venv and install the locked versions (requirements/dev.lock) and the project

kafka: install ## Start the local Kafka (idempotent) and print its bootstrap servers
	$(VENV)/bin/llmrouter kafka start

test: install ## Run the tests against a real Kafka (started here unless KAFKA_BOOTSTRAP_SERVERS is set)
	@if [ -z "$$KAFKA_BOOTSTRAP_SERVERS" ]; then \
		servers=$$($(VENV)/bin/llmrouter kafka start | tail -n 1) || exit 1; \
		export KAFKA_BOOTSTRAP_SERVERS=$$servers; \
	fi; \
	$(VENV)/bin/pytest $(PYTEST_ARGS)

lint: install ## ruff (lint + format check), mypy --strict and the import-layer contracts
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

format: install ## Apply ruff's fixes and formatting
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

demo: install ## Kafka, simulator, workers and a sample workload end to end
	$(VENV)/bin/llmrouter demo

bench: install ## The benchmarks under bench/ (figures go to docs/BENCHMARKS.md)
	$(PY) -m bench

schemas: install ## Regenerate docs/schemas/ and docs/asyncapi.yaml from the code
	$(VENV)/bin/llmrouter schemas --out docs/schemas
	$(VENV)/bin/llmrouter asyncapi --out docs/asyncapi.yaml

$(UV): $(TOOLS_LOCK)
	test -d $(VENV)/tools || python3 -m venv $(VENV)/tools
	$(VENV)/tools/bin/python -m pip install -q --require-hashes -r $(TOOLS_LOCK)
	touch $@

# $(1): extra uv flags (--upgrade). The image lock is constrained by the dev lock, so the
# two always agree on every version they share.
define resolve
	$(UV) pip compile pyproject.toml requirements/build.in --extra dev $(LOCK_FLAGS) $(1) -o $(DEV_LOCK)
	$(UV) pip compile pyproject.toml requirements/build.in --extra all -c $(DEV_LOCK) $(LOCK_FLAGS) $(1) -o $(IMAGE_LOCK)
endef

# The package==version lines of the locks, to show what a re-resolution changed.
pins = grep -hE '^[A-Za-z0-9]' $(DEV_LOCK) $(TOOLS_LOCK) | sed 's/ *\\$$//' | sort -u

lock: $(UV) ## Re-resolve the locks after editing pyproject.toml, keeping every pin that still fits
	$(call resolve,)

upgrade: $(UV) ## Take the newest releases allowed by pyproject.toml: lock diff, reinstall, completeness tests
	@$(pins) > $(VENV)/pins.before
	$(call resolve,--upgrade)
	$(UV) pip compile requirements/tools.in $(LOCK_FLAGS) --upgrade -o $(TOOLS_LOCK)
	@$(pins) > $(VENV)/pins.after
	@echo "--- what changed in the locks (- before, + after):"
	@diff -U0 $(VENV)/pins.before $(VENV)/pins.after | grep -E '^[-+][^-+]' || echo "  nothing: every pin is still the newest"
	@if timeout 300 docker pull -q $(BASE_IMAGE) >/dev/null 2>&1; then \
		digest=$$(docker image inspect --format '{{index .RepoDigests 0}}' $(BASE_IMAGE) | sed 's/.*@//'); \
		sed -i.bak "s|^ARG PYTHON_IMAGE=$(BASE_IMAGE)@sha256:[0-9a-f]*|ARG PYTHON_IMAGE=$(BASE_IMAGE)@$$digest|" Dockerfile && rm -f Dockerfile.bak; \
		echo "--- Dockerfile base image: $(BASE_IMAGE)@$$digest"; \
	else \
		echo "--- Docker could not pull $(BASE_IMAGE) here: refresh the Dockerfile's digest where it can:"; \
		echo "    docker pull $(BASE_IMAGE) && docker image inspect --format '{{index .RepoDigests 0}}' $(BASE_IMAGE)"; \
	fi
	$(MAKE) install
	$(VENV)/bin/pytest -q -p no:cacheprovider tests/repo/test_locks.py
	$(VENV)/bin/pytest -q -p no:cacheprovider tests -k '$(COMPLETENESS)'
	@echo "--- then run make test, and commit requirements/ (and the Dockerfile) as one decision"

.PHONY: help install kafka test lint format demo bench schemas lock upgrade
