# One command per habit. `make help` lists them.
VENV ?= .venv
PY := $(VENV)/bin/python
export KAFKA_BOOTSTRAP_SERVERS ?=

.DEFAULT_GOAL := help

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-8s %s\n", $$1, $$2}'

$(VENV)/.installed: pyproject.toml
	test -d $(VENV) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	# compat mode: new top-level modules are importable without reinstalling
	$(PY) -m pip install -q -e '.[dev]' --config-settings editable_mode=compat
	touch $@

install: $(VENV)/.installed ## Create .venv and install the project with its dev extra

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

.PHONY: help install kafka test lint format demo bench schemas
