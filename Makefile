# Two entry points, both self-contained on a fresh machine:
#   make app   -> creates .venv, installs the locked set, starts the Streamlit app on 127.0.0.1:8501
#   make test  -> creates .venv, installs the locked set with test extras, runs ruff and the tests
# Python 3.11-3.13: PY picks the interpreter (default python3), and the lock for its version
# (lock/py3.X.txt) is what gets installed. Example: make test PY=python3.13 VENV=.venv-py3.13
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PYVER := $(shell $(PY) -c 'import sys; print("%d.%d" % sys.version_info[:2])')
LOCK := lock/py$(PYVER).txt
PIP_VERSION := 26.3

.PHONY: app test quick setup lint lock

$(STAMP): pyproject.toml $(LOCK)
	@# a venv made by another Python version is rebuilt, never mixed
	test -x $(BIN)/python && $(BIN)/python -c 'import sys; sys.exit("%d.%d" % sys.version_info[:2] != "$(PYVER)")' \
		|| (rm -rf $(VENV) && $(PY) -m venv $(VENV))
	$(BIN)/python -m pip install -q pip==$(PIP_VERSION)
	$(BIN)/python -m pip install -q -r $(LOCK)
	$(BIN)/python -m pip install -q --no-deps -e .
	$(BIN)/python -m pip check
	touch $(STAMP)

$(LOCK):
	@echo "No lock file $(LOCK) for Python $(PYVER) ($(PY)): supported are 3.11-3.13 (see lock/)." >&2
	@echo "Pick one with PY=python3.13, or write a lock for this Python with 'make lock'." >&2
	@exit 1

setup: $(STAMP)

app: $(STAMP)
	$(BIN)/streamlit run dashboard/serve.py --server.address 127.0.0.1 --server.port 8501 --server.headless true

lint: $(STAMP)
	$(BIN)/ruff check .

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/python -m pytest --durations=15

# the quick loop (no browser, no training); CI runs it on the second Python version
quick: $(STAMP)
	$(BIN)/python -m pytest -m "not e2e and not train" --durations=15

# re-resolve the ranges in pyproject.toml in a fresh environment and pin the result
lock:
	rm -rf .lock-venv
	$(PY) -m venv .lock-venv
	.lock-venv/bin/python -m pip install -q pip==$(PIP_VERSION)
	.lock-venv/bin/python -m pip install -q -e '.[test,central]'
	.lock-venv/bin/python -m pip freeze --all --exclude-editable \
		| $(PY) scripts/lockfile.py --python $(PYVER) > $(LOCK).new
	mv $(LOCK).new $(LOCK)
	rm -rf .lock-venv
