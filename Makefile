# The README's two commands. Both do all set-up themselves (deploy/local/setup.sh).
SHELL := /bin/bash
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test setup lint typecheck unit integration stack-up stack-down clean

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
