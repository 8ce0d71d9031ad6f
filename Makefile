# fmnist: `make run` sets everything up, trains the fast recipe and writes its report; `make test`
# runs the test suite.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
DATA_DIR := /usr/share/datasets/fashion-mnist

.PHONY: run test lint verify docs data browser bench bench-avx2 bench-frontier clean

# The newcomer's first run: the fast recipe (about a minute on two cores), then its HTML report.
# The last lines are the test accuracy, the training time and the report to open.
run: $(BIN)/fmnist data
	$(BIN)/fmnist train --recipe fast
	$(BIN)/fmnist report runs/fast/seed0

# Two test processes (pytest-xdist), each test file in one of them so its fixtures are made once,
# and one torch thread each: two processes of two threads on two cores slowed the training tests
# fivefold, while one thread trains the tests' small models about as fast as two.
test: lint $(BIN)/fmnist data browser
	OMP_NUM_THREADS=1 $(BIN)/python -m pytest -n 2 --dist loadfile

# Recount every committed run and benchmark record from its kept predictions (no training).
verify: $(BIN)/fmnist data
	$(BIN)/fmnist verify

# The docs site (mkdocs.yml) into site/: strict, as tests/test_docs.py builds it, so a broken link
# fails. NO_MKDOCS_2_WARNING quiets Material's notice about its successor.
docs: $(BIN)/fmnist
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --site-dir site

# Lint and formatting check (ruff, pinned in pyproject.toml); `make test` runs it first.
lint: $(BIN)/fmnist
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

bench: $(BIN)/fmnist data
	$(BIN)/python benchmarks/speed.py

# The same on this machine as on an AVX2-only CPU (most laptops, older AMD servers): oneDNN and
# ATen's own kernels limited to AVX2, so bf16 is not native and `fast` takes its fp32 path.
bench-avx2: $(BIN)/fmnist data
	ONEDNN_MAX_CPU_ISA=AVX2 ATEN_CPU_CAPABILITY=avx2 $(BIN)/python benchmarks/speed.py

# Accuracy against wall time: the peer to its best, fast and strong and points between them, in
# one run (about 45-55 minutes on two cores); writes benchmarks/results/frontier-<date>-<kind>.*
bench-frontier: $(BIN)/fmnist data
	$(BIN)/python benchmarks/frontier.py

# The virtual environment, re-made when the dependencies change. pyproject.toml gives ranges (a
# user's own torch stays); constraints.txt pins the torch this repository tests with, the CPU wheel.
$(BIN)/fmnist: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet -c constraints.txt \
		-e ".[test,tensorboard,audit,search,export,serve,explain,cluster,docs]"
	touch $@

# The Debian package is the fastest source; without apt (or root) fmnist downloads and verifies the files itself.
data:
	@if [ ! -d $(DATA_DIR) ] && command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
		apt-get update -q && apt-get install -y -q dataset-fashion-mnist; fi

# The report test opens report.html in Debian's Chromium (driven by Playwright's Python package;
# `playwright install` would download a browser, which fails here). Installed when apt and root are there.
browser:
	@if [ ! -x /usr/bin/chromium ] && command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
		apt-get update -q && apt-get install -y -q chromium; fi

clean:
	rm -rf $(VENV) runs test-artifacts .pytest_cache site
