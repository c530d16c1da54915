# Two entry points, both self-contained on a fresh machine:
#   make app   -> creates .venv, installs the app's locked set (no torch: the models run with
#                 ONNX Runtime), starts the Streamlit app on 127.0.0.1:8501
#   make test  -> creates .venv, installs the full locked set (app + train + test extras: torch
#                 too), runs ruff and the tests
# Python 3.11-3.13: PY picks the interpreter (default python3), and the locks for its version
# (lock/app/py3.X.txt for the app, lock/py3.X.txt for the rest) are what gets installed.
# Example: make test PY=python3.13 VENV=.venv-py3.13
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PYVER := $(shell $(PY) -c 'import sys; print("%d.%d" % sys.version_info[:2])')
LOCK := lock/py$(PYVER).txt
APP_LOCK := lock/app/py$(PYVER).txt
APP_STAMP := $(VENV)/.installed-app
PIP_VERSION := 26.3
PORT ?= 8501

.PHONY: app test quick setup lint lock

# $(call install_lock,LOCKFILE): the venv (a venv made by another Python version is rebuilt,
# never mixed), the pinned set of LOCKFILE, then this project without resolving anything else
define install_lock
	test -x $(BIN)/python && $(BIN)/python -c 'import sys; sys.exit("%d.%d" % sys.version_info[:2] != "$(PYVER)")' \
		|| (rm -rf $(VENV) && $(PY) -m venv $(VENV))
	$(BIN)/python -m pip install -q pip==$(PIP_VERSION)
	$(BIN)/python -m pip install -q -r $(1)
	$(BIN)/python -m pip install -q --no-deps -e .
	$(BIN)/python -m pip check
endef

$(STAMP): pyproject.toml $(LOCK)
	$(call install_lock,$(LOCK))
	touch $(STAMP)

# the app alone: `pip install .`'s dependencies, pinned (a venv that has the full set keeps it)
$(APP_STAMP): pyproject.toml $(APP_LOCK)
	$(call install_lock,$(APP_LOCK))
	touch $(APP_STAMP)

$(LOCK) $(APP_LOCK):
	@echo "No lock file $(LOCK) for Python $(PYVER) ($(PY)): supported are 3.11-3.13 (see lock/)." >&2
	@echo "Pick one with PY=python3.13, or write a lock for this Python with 'make lock'." >&2
	@exit 1

setup: $(STAMP)

app: $(APP_STAMP)
	$(BIN)/streamlit run dashboard/serve.py --server.address 127.0.0.1 --server.port $(PORT) --server.headless true

lint: $(STAMP)
	$(BIN)/ruff check .

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/python -m pytest --durations=15

# the quick loop (no browser, no training); CI runs it on the second Python version
quick: $(STAMP)
	$(BIN)/python -m pytest -m "not e2e and not train" --durations=15

# re-resolve the ranges in pyproject.toml in a fresh environment and pin the result: the full set
# (app + train + test) first, then the app alone in another fresh environment constrained by it,
# so both locks pin every package they share to the same version
lock:
	rm -rf .lock-venv
	$(PY) -m venv .lock-venv
	.lock-venv/bin/python -m pip install -q pip==$(PIP_VERSION)
	.lock-venv/bin/python -m pip install -q -e '.[train,test,central]'
	.lock-venv/bin/python -m pip freeze --all --exclude-editable \
		| $(PY) scripts/lockfile.py --python $(PYVER) > $(LOCK).new
	rm -rf .lock-venv
	$(PY) -m venv .lock-venv
	.lock-venv/bin/python -m pip install -q pip==$(PIP_VERSION)
	.lock-venv/bin/python -m pip install -q -c $(LOCK).new .
	.lock-venv/bin/python -m pip freeze --exclude fer-monitor \
		| $(PY) scripts/lockfile.py --python $(PYVER) --app > $(APP_LOCK).new
	mv $(LOCK).new $(LOCK)
	mv $(APP_LOCK).new $(APP_LOCK)
	rm -rf .lock-venv
