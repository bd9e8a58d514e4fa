# hear_byols — set-up, tests, demo, benchmark. Every target installs what it needs into .venv.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
PIP := $(BIN)/pip
# torch 2.13.0 is pinned for the virtual environment only (the package itself needs torch>=2.0):
# on this machine kind it resolves to a local CPU wheel, while an unpinned torch pulls a CUDA build.
TORCH_VERSION ?= 2.13.0
# TF=gpu: the evaluation stack with tensorflow[and-cuda] instead of tensorflow-cpu (GPU embeddings in heareval)
TF ?= cpu
# make bench DEVICE=cuda: the benchmark on the GPU (written to benchmarks/RESULTS-cuda.md)
DEVICE ?= cpu
EVAL_STAMP := $(VENV)/.eval-installed-tf-$(TF)
BENCH_RESULTS := benchmarks/RESULTS$(if $(filter cpu,$(DEVICE)),,-cuda).md
BENCH_CLI_RESULTS := benchmarks/RESULTS-cli$(if $(filter cpu,$(DEVICE)),,-cuda).md

.PHONY: help install install-eval system-deps test test-fast demo bench bench-cli bench-train bench-onnx bench-probe pretrain-check pretrain-probe leaderboard docs-tables readme-table clean

help:
	@echo "make test        install everything, run the whole test suite (what CI runs)"
	@echo "make test-fast   the suite without the slow end-to-end tests"
	@echo "make demo        small HEAR tasks -> heareval -> score table and plot for cvt, default (untrained offline) and default512 (real)"
	@echo "make bench       speed and memory benchmark (benchmarks/RESULTS.md; DEVICE=cuda: on the GPU), then bench-cli, bench-train, bench-onnx, bench-probe"
	@echo "make leaderboard TASKS_DIR=... reproduce the HEAR 2021 scores (GPU machine; add TF=gpu for GPU embeddings;"
	@echo "                 JOBS=N: N steps at once, one GPU each; SHARD=I/N: one part, see docs/EVALUATION.md)"
	@echo "make bench-cli   hear-byols embed on 1,000 files vs the model alone, 2 shards vs 2 threads (benchmarks/RESULTS-cli.md)"
	@echo "make bench-train training samples/s on this machine, with and without openSMILE targets"
	@echo "make bench-onnx  onnxruntime vs torch (scene, timestamps; 1 and 2 threads), streaming latency, export time"
	@echo "make bench-probe hear-byols probe's stages (decode, embed, openSMILE, grid search) on a 1,500-clip corpus"
	@echo "make pretrain-check  train d=512 from scratch on ~1,200 espeak-ng clips, print the loss curve (idle 2-core CPU: ~10 min)"
	@echo "make pretrain-probe  pretrain-check for 3 seeds and --init default512, then a linear probe vs random init and published (CPU: hours)"
	@echo "make docs-tables regenerate every generated table of README.md and docs/ (the list: evaluation/docs_tables.py)"
	@echo "make readme-table    the same as docs-tables (kept for old habits)"

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade "pip>=24"

$(VENV)/.core-installed: $(PY) setup.cfg pyproject.toml
	$(PIP) install -q "torch==$(TORCH_VERSION)"
	$(PIP) install -q -e ".[test,train,probe,export]"
	touch $@

install: $(VENV)/.core-installed

$(EVAL_STAMP): $(VENV)/.core-installed evaluation/requirements-hear.txt evaluation/requirements-hear-nodeps.txt
	$(PIP) install -q -r evaluation/requirements-hear.txt
	$(PIP) install -q --no-deps -r evaluation/requirements-hear-nodeps.txt
ifeq ($(TF),gpu)
	$(PIP) uninstall -q -y tensorflow-cpu
	$(PIP) install -q "tensorflow[and-cuda]==2.21.0"
endif
	rm -f $(VENV)/.eval-installed-tf-*
	touch $@

install-eval: $(EVAL_STAMP)

system-deps:
	@command -v espeak-ng >/dev/null || { apt-get update -qq && apt-get install -y -qq espeak-ng >/dev/null; }

test: install install-eval system-deps
	$(PY) -m pytest -q

test-fast: install install-eval
	$(PY) -m pytest -q -m "not slow"

demo: install install-eval system-deps
	$(PY) -m evaluation demo --out work/demo

bench: install
	$(PY) benchmarks/bench.py --device $(DEVICE) --write $(BENCH_RESULTS)
	$(PY) benchmarks/bench_cli.py --device $(DEVICE) --write $(BENCH_CLI_RESULTS)
	$(PY) benchmarks/bench_train.py
	$(PY) benchmarks/bench_onnx.py
	$(PY) benchmarks/bench_probe.py

bench-cli: install
	$(PY) benchmarks/bench_cli.py --device $(DEVICE) --write $(BENCH_CLI_RESULTS)

bench-train: install
	$(PY) benchmarks/bench_train.py

bench-onnx: install
	$(PY) benchmarks/bench_onnx.py

bench-probe: install system-deps
	$(PY) benchmarks/bench_probe.py

pretrain-check: install system-deps
	$(PY) -m evaluation.pretrain_check --out $(or $(OUT),work/pretrain-check)

# Three seeds from scratch and continued pretraining of the published d=512 model, each resumed
# where an earlier (cut) run stopped, then the linear probe against random init and the published weights.
PROBE_OUT = $(or $(OUT),work/pretrain-check)
PROBE_STEPS ?= 300
pretrain-probe: install system-deps
	$(PY) -m evaluation.pretrain_check --out $(PROBE_OUT) --run run --seed 42 --steps $(PROBE_STEPS)
	$(PY) -m evaluation.pretrain_check --out $(PROBE_OUT) --run seed1 --seed 1 --steps $(PROBE_STEPS)
	$(PY) -m evaluation.pretrain_check --out $(PROBE_OUT) --run seed2 --seed 2 --steps $(PROBE_STEPS)
	$(PY) -m evaluation.pretrain_check --out $(PROBE_OUT) --run init-default512 --init default512 --steps $(PROBE_STEPS)
	$(PY) -m evaluation pretrain-probe --generate --tasks-dir $(PROBE_OUT)/tasks --out $(PROBE_OUT)/probe \
		published=published random42=random:42 random1=random:1 random2=random:2 \
		seed42=$(PROBE_OUT)/run/encoder.pth seed1=$(PROBE_OUT)/seed1/encoder.pth \
		seed2=$(PROBE_OUT)/seed2/encoder.pth init-default512=$(PROBE_OUT)/init-default512/encoder.pth

leaderboard: install install-eval
	@test -n "$(TASKS_DIR)" || { echo "usage: make leaderboard TASKS_DIR=/path/to/hear-2021-tasks [OUT=work/leaderboard] [JOBS=N] [SHARD=I/N]"; exit 2; }
	$(PY) -m evaluation leaderboard --tasks-dir "$(TASKS_DIR)" --out "$(or $(OUT),work/leaderboard)" \
		--jobs $(or $(JOBS),1) $(if $(SHARD),--shard $(SHARD))

clean:
	rm -rf $(VENV) build dist *.egg-info work

# every generated table of README.md and docs/ (the list: evaluation/docs_tables.py); tests fail when one is stale
docs-tables: install install-eval
	$(PY) -m evaluation.docs_tables

readme-table: docs-tables
