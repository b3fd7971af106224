#!/usr/bin/env bash
# bench.sh is `make bench`: the in-process matrix (go test -bench), then the
# process matrix (poolbench run: server and load in separate pinned
# processes), both into results/<yyyymmdd-hhmmss>-<sha7>/bench.txt with
# file-level keys on top, then benchstat tables. Settings come from the
# environment (the Makefile passes its variables): COUNT, BENCHTIME, CONNS,
# MODELS, TRANSPORTS, LOADS, ROUTES, VARIANTS, GOMAXPROCS_BENCH, RUN_DIR for
# the in-process layer; PROC (0 skips the process layer), PROC_COUNT,
# PROC_FLAGS for the process layer.
set -euo pipefail
cd "$(dirname "$0")/.."

: "${COUNT:=6}" "${BENCHTIME:=100ms}" "${CONNS:=1,16,256}" "${MODELS:=all}"
: "${TRANSPORTS:=all}" "${LOADS:=all}" "${ROUTES:=all}" "${VARIANTS:=default}"
: "${GOMAXPROCS_BENCH:=$(nproc)}"
: "${PROC:=1}" "${PROC_COUNT:=5}" "${PROC_FLAGS:=}"

sha=$(git rev-parse --short=7 HEAD 2>/dev/null || echo nogit)
dirty=""
if [ -n "$(git status --porcelain 2>/dev/null)" ]; then dirty="-dirty"; fi
run_dir=${RUN_DIR:-results/$(date -u +%Y%m%d-%H%M%S)-$sha}
mkdir -p "$run_dir"
out=$run_dir/bench.txt

echo "poolbench: building the benchmark binaries"
go test -c -o "$run_dir/.bench.test" ./bench
go test -c -o "$run_dir/.app.test" ./servers/app
go build -o "$run_dir/.poolbench" ./cmd/poolbench

cells=$("$run_dir/.bench.test" -test.run='^TestCellCount$' -test.v \
	-poolbench.conns="$CONNS" -poolbench.models="$MODELS" -poolbench.transports="$TRANSPORTS" \
	-poolbench.loads="$LOADS" -poolbench.routes="$ROUTES" -poolbench.variants="$VARIANTS" |
	sed -n 's/.*cells: \([0-9]*\).*/\1/p')
echo "poolbench: $cells cells × count=$COUNT at benchtime=$BENCHTIME, GOMAXPROCS=$GOMAXPROCS_BENCH → $out"

header() {
	echo "commit: $sha$dirty"
	echo "go-version: $(go env GOVERSION)"
	echo "fasthttp-version: $(go list -m -f '{{.Version}}' github.com/valyala/fasthttp)"
	echo "layer: inprocess"
	echo "gomaxprocs: $GOMAXPROCS_BENCH"
	echo "num-cpu: $(nproc)"
	echo "pinning: none (in-process: server and client share one process and GOMAXPROCS)"
	echo "kernel: $(uname -sr | tr ' ' '-')"
	echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
	echo "benchtime: $BENCHTIME"
	echo
	echo "Unit req/s better=higher"
	echo
}
header >"$out"

start=$(date +%s)
# go test prints each cell as it finishes: that is the progress.
"$run_dir/.bench.test" -test.run='^$' -test.bench='^BenchmarkServer$' -test.benchmem \
	-test.count="$COUNT" -test.benchtime="$BENCHTIME" -test.cpu="$GOMAXPROCS_BENCH" \
	-poolbench.conns="$CONNS" -poolbench.models="$MODELS" -poolbench.transports="$TRANSPORTS" \
	-poolbench.loads="$LOADS" -poolbench.routes="$ROUTES" -poolbench.variants="$VARIANTS" |
	tee -a "$out" | awk -v total=$((cells * COUNT)) -v start="$start" '
		/^Benchmark/ { n++; el = systime() - start; eta = (n < total) ? int(el * (total - n) / n) : 0
			printf "[%d/%d eta %ds] %s\n", n, total, eta, $1; fflush() }
		/^(FAIL|panic|---)/ { print; fflush() }'
# The client models against one server (plaintext, 16 and 100 callers).
"$run_dir/.bench.test" -test.run='^$' -test.bench='^BenchmarkClient$' -test.benchmem \
	-test.count="$COUNT" -test.benchtime="$BENCHTIME" -test.cpu="$GOMAXPROCS_BENCH" \
	-poolbench.conns=16,100 -poolbench.routes=plaintext | tee -a "$out" |
	awk '/^Benchmark/ { printf "[client] %s\n", $1; fflush() }'
# The technique micro-benchmarks go to their own file: they have no /model.
header >"$run_dir/techniques.txt"
"$run_dir/.app.test" -test.run='^$' -test.bench='^BenchmarkTechnique$' -test.benchmem \
	-test.count="$COUNT" -test.benchtime="$BENCHTIME" -test.cpu="$GOMAXPROCS_BENCH" |
	tee -a "$run_dir/techniques.txt" | awk '/^Benchmark/ { printf "[technique] %s\n", $1; fflush() }'
if [ -n "${PROFILE:-}" ]; then
	# One go test run per cell, so each profile belongs to one cell. In-process
	# profiles hold client and server together; poolbench run -profile
	# (make profile) has the server's alone.
	echo "poolbench: in-process allocation profiles (-memprofilerate=1, 2000 requests per cell)"
	"$run_dir/.bench.test" -poolbench.print-cells -poolbench.conns="$CONNS" -poolbench.models="$MODELS" \
		-poolbench.transports="$TRANSPORTS" -poolbench.loads="$LOADS" -poolbench.routes="$ROUTES" \
		-poolbench.variants="$VARIANTS" | while read -r cell; do
		dir="$run_dir/profiles/$cell"
		mkdir -p "$dir"
		pattern="^BenchmarkServer\$$(echo "/$cell" | sed 's/\./\\./g; s#/\([^/]*\)#/^\1$#g')"
		"$run_dir/.bench.test" -test.run='^$' -test.bench="$pattern" -test.benchtime=2000x -test.count=1 \
			-test.memprofile="$dir/allocs.pb.gz" -test.memprofilerate=1 -poolbench.conns="$CONNS" \
			-poolbench.variants="$VARIANTS" >"$dir/bench.txt"
		grep -q '^Benchmark' "$dir/bench.txt" || { echo "poolbench: no benchmark matched $cell" >&2; exit 1; }
		echo "  $dir/allocs.pb.gz"
	done
fi
rm -f "$run_dir"/.*.test

if [ "$PROC" != 0 ]; then
	echo "poolbench: process layer (poolbench run -count $PROC_COUNT $PROC_FLAGS)"
	# shellcheck disable=SC2086 # PROC_FLAGS is a list of flags
	"$run_dir/.poolbench" run -out "$run_dir" -count "$PROC_COUNT" $PROC_FLAGS
	echo "poolbench: server-only profiles, apart from the timing runs (poolbench run -profile)"
	"$run_dir/.poolbench" run -profile -out "$run_dir" -count 1 -loads keepalive -keepalive-conns 16 -variants default
fi
echo "poolbench: client pool scenarios (poolbench scenarios)"
"$run_dir/.poolbench" scenarios -json >"$run_dir/scenarios.json" || echo "poolbench: a scenario did not reproduce its failure or fix; see $run_dir/scenarios.json" >&2
"$run_dir/.poolbench" report "$run_dir"
rm -f "$run_dir/.poolbench"

for f in "$out" "$run_dir/techniques.txt"; do
	if grep -q -E '^(FAIL|panic:|--- FAIL)' "$f"; then
		echo "poolbench: a benchmark failed; see $f" >&2
		exit 1
	fi
done

echo
echo "poolbench: wrote $out in $(($(date +%s) - start))s"
# table prints one benchstat table of bench.txt under a title.
table() {
	echo
	echo "== $1 =="
	shift
	go tool benchstat "$@" -table "" "$out" | grep -v '^$' || true
}
table "in-process: fasthttp vs net/http (tcp, app route, all switches on; rows: load × conns)" \
	-filter '.name:Server /transport:tcp /route:app /pool:on /conv:on /reuse:on .unit:(req/s OR allocs/op)' -col /model -row /load,/conns
table "in-process: client models against one fasthttp server (plaintext; rows: callers)" \
	-filter '.name:Client .unit:(req/s OR dials/1k-req OR timewait-socks)' -col /client -row /conns
if [ "$PROC" != 0 ]; then
	table "process layer: client models, each in its own load process against a fasthttp server process" \
		-filter '.name:Proc /load:client .unit:(req/s OR p99-ns OR dials/1k-req OR timewait-socks)' -col /client -row /conns
	table "process layer, server on its own pinned cpu: keepalive and shortlived (rows: load × conns)" \
		-filter '.name:Proc /client:driver /load:(keepalive OR shortlived) .unit:(req/s OR p99-ns OR cpu-ns/op OR allocs/op)' -col /model -row /load,/conns
	table "process layer: bursty, open loop, latency from the intended send time (rows: silence between bursts)" \
		-filter '.name:Proc /load:bursty .unit:(p50-ns OR p99-ns OR p999-ns OR allocs/op)' -col /model -row /gap
	table "process layer: idle connections, server memory per connection (rows: conns × ReduceMemoryUsage)" \
		-filter '.name:Proc /load:idle .unit:(rss-bytes/conn OR heap-bytes/conn)' -col /model -row /conns,/mem
	echo
	echo "Raw open-loop results: go tool vegeta report $run_dir/vegeta/<cell>.vegeta.bin"
fi
echo
echo "== each technique alone (go tool benchstat -col /switch $run_dir/techniques.txt) =="
go tool benchstat -col /switch -table "" -filter '.unit:(sec/op OR allocs/op)' "$run_dir/techniques.txt" | grep -v '^$' || true
echo
echo "Report: $run_dir/report.html (open from disk) and $run_dir/report.md"
echo "More slices (README, 'Reading results'):"
echo "  go tool benchstat -filter '.name:Proc /load:keepalive' -col /model -row /conns $out"
echo "  go tool benchstat -filter '.name:Server /model:fasthttp /conv:on /reuse:on' -col '/pool@(off on)' -row /transport,/load,/conns $out"
