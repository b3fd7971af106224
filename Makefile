# poolbench: fasthttp's worker pool vs net/http's goroutine per connection.
# `make help` lists the targets; variables below can be set on the command line.

SHELL := /bin/bash

# The matrix (poolbench bench -h says exactly what each narrows). Unset
# variables keep each layer's default:
#   MODELS     server models, both layers (default all)
#   ROUTES     routes, both layers (default: in-process plaintext,app; process app)
#   CONNS      in-process connection counts (default 1,16,256); when set, also
#              the process layer's keep-alive sweep (default 1,16,64,256,1024)
#   VARIANTS   app variants: in-process, and the process layer at keep-alive
#              PROC_VARIANT_CONNS connections, PROC_VARIANT_COUNT runs each
#              (default: each switch off alone, all on, all off; all-on runs
#              no process variant cells)
#   TRANSPORTS, LOADS   in-process only
COUNT      ?= 6
BENCHTIME  ?= 100ms
CONNS      ?=
MODELS     ?=
TRANSPORTS ?=
LOADS      ?=
ROUTES     ?=
VARIANTS   ?= default

# PROFILE=1: make bench also writes one allocation profile per in-process
# cell (its own go test run, -memprofilerate=1) to results/<run-id>/profiles/.
PROFILE    ?=

# Gate (poolbench gate -h): BASE is the git revision to compare against.
# GATE_MODE is the calibrated paired setup (poolbench calibrate measured it);
# GATE_MODE= gives the interleaved gate with bench/gate.json.
BASE       ?=
GATE_MODE  ?= -paired -count 4 -max-rounds 10 -benchtime 30000x -policy bench/gate/paired.json
GATE_FLAGS ?=

# Process matrix (poolbench run -h): PROC=0 skips it; PROC_FLAGS adds flags.
# PROFILE_FLAGS adds poolbench run flags to make profile.
PROC          ?= 1
PROC_COUNT    ?= 4
PROC_VARIANT_CONNS ?= 64
PROC_VARIANT_COUNT ?= 2
PROC_FLAGS    ?=
PROFILE_FLAGS ?=

# make report / make pprof: RUN is a run folder (default: the newest);
# make pprof: CELL is a cell path (as in profiles.md), KIND allocs or cpu.
RUN  ?=
CELL ?=
KIND ?= allocs
# make report: FORCE=1 allows rewriting results/reference.
# make fuzz: FUZZTIME per fuzz target.
FUZZTIME ?= 60s
FORCE ?=
# make compare: A and B are runs (folders or bench.txt files); MD=1 prints markdown.
A  ?=
B  ?=
MD ?=

# QUICK=1 trades statistics for time: one sample per cell, 50ms in-process
# samples, 1s process windows, 16 connections in both layers, no wrk cells,
# profiles of all switches on only.
ifdef QUICK
COUNT      := 1
BENCHTIME  := 50ms
CONNS      := 16
PROC_COUNT := 1
PROC_VARIANT_COUNT := 1
PROC_FLAGS := -duration 1s -warmup 200ms -shortlived-conns 16 -idle-conns 1000 -gaps 2s
QUICK_FLAGS := -no-tools -profile-variants all-on
endif

POOLBENCH := bin/poolbench
BUILD     := go build -o $(POOLBENCH) ./cmd/poolbench

.DEFAULT_GOAL := help

.PHONY: help
help: ## List the targets and the variables they read.
	@awk 'BEGIN {FS = ":.*## "} /^[a-z-]+:.*## / {printf "  make %-8s %s\n", $$1, $$2}' $(MAKEFILE_LIST)
	@echo
	@echo "Variables (current values; empty: each layer's default, see poolbench bench -h):"
	@echo "  bench:   MODELS=$(MODELS) ROUTES=$(ROUTES)   (both layers)"
	@echo "           CONNS=$(CONNS)   (in-process; when set, also the process keep-alive sweep)"
	@echo "           VARIANTS=$(VARIANTS)   (in-process; process: keep-alive at PROC_VARIANT_CONNS=$(PROC_VARIANT_CONNS), PROC_VARIANT_COUNT=$(PROC_VARIANT_COUNT) runs)"
	@echo "           TRANSPORTS=$(TRANSPORTS) LOADS=$(LOADS)   (in-process only)"
	@echo "           COUNT=$(COUNT) BENCHTIME=$(BENCHTIME) PROFILE=$(PROFILE)   (in-process)"
	@echo "           PROC=$(PROC) PROC_COUNT=$(PROC_COUNT) PROC_FLAGS='$(PROC_FLAGS)'   (process layer)"
	@echo "           QUICK=$(QUICK)   (1: COUNT=1 BENCHTIME=50ms CONNS=16 PROC_COUNT=PROC_VARIANT_COUNT=1, 1s windows, no wrk cells, all-on profiles)"
	@echo "  profile: PROFILE_FLAGS='$(PROFILE_FLAGS)'"
	@echo "  report:  RUN=$(RUN) FORCE=$(FORCE)   pprof: RUN=$(RUN) CELL=$(CELL) KIND=$(KIND)"
	@echo "  gate:    BASE=$(BASE) GATE_MODE='$(GATE_MODE)' GATE_FLAGS='$(GATE_FLAGS)'   (cells: GATE_FLAGS='-models … -routes … -conns …')"
	@echo "  compare: A=$(A) B=$(B) MD=$(MD)"

.PHONY: bench
bench: ## Run the benchmark matrix into results/<run-id>/ and print the benchstat table (QUICK=1 for a fast pass).
	@$(BUILD) && $(POOLBENCH) bench -count '$(COUNT)' -benchtime '$(BENCHTIME)' $(if $(CONNS),-conns '$(CONNS)') $(if $(MODELS),-models '$(MODELS)') $(if $(ROUTES),-routes '$(ROUTES)') $(if $(TRANSPORTS),-transports '$(TRANSPORTS)') $(if $(LOADS),-loads '$(LOADS)') -variants '$(VARIANTS)' -profile=$(if $(PROFILE),true,false) -proc=$(if $(filter 0,$(PROC)),false,true) -proc-count '$(PROC_COUNT)' -proc-variant-conns '$(PROC_VARIANT_CONNS)' -proc-variant-count '$(PROC_VARIANT_COUNT)' -proc-flags '$(PROC_FLAGS)' $(QUICK_FLAGS)

.PHONY: report
report: ## Write report.html and report.md for RUN (default: the newest run; results/reference needs FORCE=1).
	@$(BUILD) && $(POOLBENCH) report $(if $(FORCE),-force) $(RUN)

.PHONY: profile
profile: ## Profile the server per cell (allocs with MemProfileRate=1, CPU) into results/<run-id>/profiles/ and write profiles.md.
	@$(BUILD) && $(POOLBENCH) bench -only profile -proc-flags '$(PROFILE_FLAGS)'

.PHONY: pprof
pprof: ## Open go tool pprof on loopback for one cell: make pprof CELL=<cell path> [RUN=results/<run-id>] [KIND=cpu].
	@$(BUILD) && $(POOLBENCH) pprof -cell '$(CELL)' -kind '$(KIND)' $(if $(RUN),-run '$(RUN)')

.PHONY: gate
gate: ## Gate the working tree against BASE (a git rev), paired (GATE_MODE); exit 1 on a regression, 2 if it cannot compare.
	@test -n "$(BASE)$(GATE_FLAGS)" || { echo "make gate: set BASE, e.g. make gate BASE=origin/main (or GATE_FLAGS='-base-mod github.com/valyala/fasthttp@v1.73.0')" >&2; exit 2; }
	@$(BUILD) && $(POOLBENCH) gate $(if $(BASE),-base "$(BASE)") $(GATE_MODE) $(GATE_FLAGS)

.PHONY: compare
compare: ## Compare two runs side by side: make compare A=results/<run> B=results/<run> [MD=1 for markdown].
	@test -n "$(A)" -a -n "$(B)" || { echo "make compare: set A and B to runs, e.g. make compare A=results/reference B=results/<run-id>" >&2; exit 2; }
	@$(BUILD) && $(POOLBENCH) compare $(if $(MD),-md) "$(A)" "$(B)"

.PHONY: test
test: ## Vet, check formatting, run the tests with -race and without, and smoke-run every benchmark.
	@bash scripts/test.sh

.PHONY: fuzz
fuzz: ## Fuzz every reader of outside input for FUZZTIME each (default 60s); make test runs their seed corpora.
	@set -e; for t in $$(grep -rl --include='*_test.go' '^func Fuzz' . | xargs grep -o '^func Fuzz[A-Za-z]*' | sed 's|/[^/]*_test.go:func |:|'); do \
		pkg=$${t%%:*}; name=$${t##*:}; echo "== $$name $$pkg"; \
		go test -run '^$$' -fuzz "^$$name\$$" -fuzztime $(FUZZTIME) -fuzzminimizetime 1s -parallel 1 "$$pkg"; done

.PHONY: fakeconn-check
fakeconn-check: ## Run fasthttp's own server_timing_test.go Get1ReqPerConn/Get10KReqPerConn and the transport=fakeconn cells interleaved round by round; verdict on ours÷theirs ratio (median, ≥90% interval) vs ±10%.
	@go run ./bench/fakeconn/check

.PHONY: clean
clean: ## Remove generated runs under results/ (keeps results/reference and results/README.md), bin/, and Go's test cache.
	@find results -mindepth 1 -maxdepth 1 ! -name reference ! -name README.md -print -exec rm -rf {} + | sed 's/^/make clean: removed /'
	@rm -rf bin && echo "make clean: removed bin/"
	@go clean -testcache && echo "make clean: cleared Go's test cache (go clean -testcache)"
