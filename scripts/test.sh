#!/usr/bin/env bash
# test.sh is `make test`: vet, formatting, the tests with and without the race
# detector (zero-allocation tests only run without it), and a smoke run of
# every benchmark so a broken benchmark fails CI.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n== %s\n' "$*"; }

step "go vet"
go vet ./...

step "gofmt"
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [ -n "$unformatted" ]; then
	echo "gofmt would change these files (run gofmt -w):"
	echo "$unformatted"
	exit 1
fi

step "go test -race ./..."
go test -race -count=1 ./...

# The second pass runs only the packages with tests that skip themselves
# under -race (allocation counts, timing-sensitive scenarios): every other
# test already ran in the first pass.
norace=$(grep -rlE --include='*_test.go' '^//go:build !race|raceEnabled' . | xargs -n1 dirname | sort -u)
step "go test without -race: $(echo $norace | tr '\n' ' ')(allocation tests and racy scenarios run only without -race)"
# shellcheck disable=SC2086 # a list of package folders
go test -count=1 -skip '^TestGateVerdicts$' $norace

step "the gate's verdicts on planted regressions (alone: other tests running beside it would be the noise it measures)"
go test -count=1 -run '^TestGateVerdicts$' ./cmd/poolbench

step "benchmark smoke run (100 requests per cell, every cell)"
smoke=$(mktemp)
trap 'rm -f "$smoke"' EXIT
if ! { go test -run '^$' -bench . -benchtime=100x -count=1 ./bench \
	-poolbench.conns=1,16 -poolbench.variants=all &&
	go test -run '^$' -bench . -benchtime=100x -count=1 ./servers/app; } >"$smoke" 2>&1; then
	cat "$smoke"
	exit 1
fi
echo "$(grep -c '^Benchmark' "$smoke") benchmark cells ran"
