# The two set-up commands: `make demo` and `make test`. Both create .venv on first use.
VENV ?= .venv
PYTHON ?= python3
PY := $(VENV)/bin/python
PIP := $(PY) -m pip --disable-pip-version-check

.PHONY: install demo test lint bench clean-venv

# torch/torchvision are pinned (requirements/torch.txt): an unpinned torch pulls a multi-GB build.
$(VENV)/.installed: pyproject.toml requirements/torch.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q -r requirements/torch.txt
	$(PIP) install -q -e ".[models,dev]"
	touch $@

install: $(VENV)/.installed

demo: $(VENV)/.installed
	$(VENV)/bin/reassess demo

test: $(VENV)/.installed
	$(VENV)/bin/ruff check src tests benchmarks scripts
	$(PY) -m pytest -q

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check src tests benchmarks scripts

clean-venv:
	rm -rf $(VENV)
