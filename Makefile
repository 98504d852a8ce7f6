# The two set-up commands: `make demo` and `make test`. Both create .venv on first use.
VENV ?= .venv
PYTHON ?= python3
PY := $(VENV)/bin/python
PIP := $(PY) -m pip --disable-pip-version-check

.PHONY: install demo test lint bench clean-venv browser

# torch/torchvision are pinned (requirements/torch.txt): an unpinned torch pulls a multi-GB build.
$(VENV)/.installed: pyproject.toml requirements/torch.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q -r requirements/torch.txt
	$(PIP) install -q -e ".[models,clip,ray,dev]"
	touch $@

install: $(VENV)/.installed

demo: $(VENV)/.installed
	$(VENV)/bin/reassess demo

# Headless Chromium for the report's browser test: Debian's package (CI runs as root on Debian).
browser:
	command -v chromium >/dev/null || (apt-get update && apt-get install -y chromium)

test: $(VENV)/.installed browser
	$(VENV)/bin/ruff check src tests benchmarks scripts
	$(PY) -m pytest -q

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check src tests benchmarks scripts

clean-venv:
	rm -rf $(VENV)
