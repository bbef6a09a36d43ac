# zcloud — two commands on a fresh machine:
#   make run    set everything up and start the all-in-one (SQLite, in-process bus, simulator)
#   make test   set everything up, make sure PostgreSQL and RabbitMQ run, run the whole suite
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test venv services lint typecheck imports unit contract integration bench-bus bench-failover clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV) || { \
	  echo "python3 -m venv failed: installing python3-venv"; \
	  apt-get update -qq && apt-get install -y -qq python3-venv && $(PYTHON) -m venv $(VENV); }
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e ".[dev]"
	@touch $(STAMP)

venv: $(STAMP)

run: $(STAMP)
	$(BIN)/zcloud up

services:
	@deploy/dev/ensure-services.sh

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy mgmt agent tests

imports: $(STAMP)
	$(BIN)/lint-imports

unit: $(STAMP)
	$(BIN)/pytest tests/unit -q

test: $(STAMP) services lint typecheck imports
	$(BIN)/pytest tests -n 2 --dist loadfile --durations=25

bench-bus: $(STAMP) services
	$(BIN)/zcloud bench bus

bench-failover: $(STAMP) services
	$(BIN)/zcloud bench failover

# the Java SDK from the OpenAPI document, offline: build/zcloud-sdk.jar (+ build/sdk-java/lib)
.PHONY: sdk-java
sdk-java: $(STAMP)
	@deploy/sdk/build-java.sh

clean:
	rm -rf $(VENV) var .mypy_cache .ruff_cache .pytest_cache
