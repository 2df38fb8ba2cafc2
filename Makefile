# The README's two commands. Both do all set-up themselves (deploy/local/setup.sh).
SHELL := /bin/bash
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test test-recovery setup lint typecheck unit integration stack-up stack-down clean

demo: setup
	$(BIN)/dossierhub demo

test: setup lint typecheck
	$(BIN)/pytest

setup:
	@deploy/local/setup.sh

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: setup
	$(BIN)/mypy

# the processors' kill -9 and scale-out tests (marked "recovery", left out of `make test`)
test-recovery: setup
	$(BIN)/pytest -m recovery tests/integration/test_processors_recovery.py

unit: setup
	$(BIN)/pytest tests/unit

integration: setup
	$(BIN)/pytest tests/integration

stack-up: setup
	$(BIN)/dossierhub stack up

stack-down:
	$(BIN)/dossierhub stack down

clean: stack-down
	rm -rf .dossierhub
