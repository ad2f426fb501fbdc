# Two commands set everything up on a fresh machine:
#   make demo   - install into .venv, then run the end-to-end demo (leaderboard/demo/)
#   make test   - install into .venv, then run the test suite
# CPU torch: TORCH defaults to torch==2.13.0 (a CPU wheel on the project's machines). Elsewhere, e.g.
#   make test TORCH=torch PIP_TORCH_ARGS="--index-url <PyTorch CPU wheel index>"   (see README)
PYTHON ?= python3
VENV ?= .venv
TORCH ?= torch==2.13.0
PIP_TORCH_ARGS ?=
BIN := $(VENV)/bin
PYTEST_ARGS ?=

.PHONY: install demo test test-iqa lint bench clean real-captures-example

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q "$(TORCH)" $(PIP_TORCH_ARGS)
	$(BIN)/python -m pip install -q -e ".[dev,dist]"
	touch $@

install: $(VENV)/.installed

demo: install
	$(BIN)/gyrobench demo --out out/demo --publish leaderboard/demo

# No-reference leaderboard over captures, built from SYNTHETIC captures (Kodak images, demo camera x2 focal length,
# fitted hand-shake, 20 ms exposure, 10 ms readout): docs/captures.md. Real captures: import them and run the
# same eval/leaderboard commands on their folder.
RCE := leaderboard/real-captures-example
real-captures-example: install
	rm -rf out/real-captures-example/captures $(RCE)/records
	for i in 0 1 2 3 4 5; do $(BIN)/gyrobench capture synth --out out/real-captures-example/captures/syn$$i \
	  --image $$((2 * i)) --seed $$i --focal-scale 2 --readout-ms 10 || exit 1; done
	$(BIN)/gyrobench eval --model identity --captures out/real-captures-example/captures --label "photo as taken (identity)" --out $(RCE)/records/identity
	$(BIN)/gyrobench eval --model classical --captures out/real-captures-example/captures --label "classical (per-tile Wiener)" --out $(RCE)/records/classical
	$(BIN)/gyrobench leaderboard $(RCE)/records --out $(RCE) --title "real captures (no reference): example on SYNTHETIC captures"

test: install
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

# Cross-checks that need the iqa extra (pyiqa + torchvision), in an environment of their own.
IQA_VENV ?= .venv-iqa
$(IQA_VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(IQA_VENV)
	$(IQA_VENV)/bin/python -m pip install -q --upgrade pip
	$(IQA_VENV)/bin/python -m pip install -q torch==2.14.1 torchvision==0.29.1
	$(IQA_VENV)/bin/python -m pip install -q -e ".[iqa,dev]"
	touch $@

test-iqa: $(IQA_VENV)/.installed
	$(IQA_VENV)/bin/python -m pytest -q -m iqa $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check gyrobench tests benchmarks

bench: install
	$(BIN)/python benchmarks/run_all.py

clean:
	rm -rf $(VENV) $(IQA_VENV) out build *.egg-info
