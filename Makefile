# Two commands do all set-up on a fresh machine:  make demo  (the main job)  and  make test.
# make lab opens JupyterLab on notebooks/ with the project's kernel.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell uname -m)
FASHION := /usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz
export HF_HUB_OFFLINE ?= 1
export OMP_WAIT_POLICY ?= PASSIVE

KERNEL := nbutils
TEST_WORKERS ?= 2  # make test: pytest-xdist workers (one per core of a 2-core machine)

.PHONY: demo test lab install data browser clean-runs

demo: install data  ## run every notebook on the default offline data into runs/demo/<run-id>/
	$(BIN)/python -m nbutils.run params/demo.yaml $(ARGS)

test: install data browser  ## unit tests, then every notebook through papermill with params/ci.yaml
	$(BIN)/python -m pytest -q -n $(TEST_WORKERS) --dist loadfile --durations=25 $(PYTEST_ARGS)

lab: install  ## JupyterLab (from .venv) on notebooks/, with the kernel "$(KERNEL)" installed by make install
	$(BIN)/jupyter lab --notebook-dir=notebooks $(if $(filter 0,$(shell id -u)),--allow-root) $(ARGS)

install: $(STAMP)

# torch/torchvision pins follow `uname -m` through the markers in pyproject.toml
# (x86_64: torch 2.14.1 + torchvision 0.29.1; aarch64: torch 2.9.1 + torchvision 0.24.1).
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e ".[test,lab,ray]"
	$(BIN)/python -m ipykernel install --sys-prefix --name $(KERNEL) --display-name "Python (nbutils)"
	touch $@

data:  ## Fashion-MNIST from Debian's dataset-fashion-mnist, unless NBUTILS_DATA points elsewhere
	@if [ -n "$$NBUTILS_DATA" ] || [ -f $(FASHION) ]; then exit 0; fi; \
	if command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
		echo "installing Debian's dataset-fashion-mnist"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq dataset-fashion-mnist; \
	else \
		echo "Fashion-MNIST not found in $(dir $(FASHION))."; \
		echo "Install it with: sudo apt-get install dataset-fashion-mnist"; \
		echo "or set NBUTILS_DATA to a folder holding {train,t10k}-{images-idx3,labels-idx1}-ubyte.gz"; \
		exit 1; \
	fi

browser:  ## headless Chromium for the report's browser test (Debian's chromium, as root); else that test skips
	@if command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1; then exit 0; fi; \
	if command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
		echo "installing Debian's chromium (tests/test_html_report.py opens the run report in it)"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium \
			|| echo "chromium could not be installed: the report's browser test will skip"; \
	else \
		echo "chromium not found: the report's browser test will skip. Install it with: sudo apt-get install chromium"; \
	fi

clean-runs:
	rm -rf runs/
