#!/usr/bin/env bash
# profile.sh is `make profile`: profiling runs of the process layer (the
# server's own allocs and CPU profiles per cell, MemProfileRate=1), apart
# from timing runs, into results/<run-id>/profiles/, then profiles.md.
# PROFILE_FLAGS adds `poolbench run` flags; RUN_DIR picks the folder.
set -euo pipefail
cd "$(dirname "$0")/.."

: "${PROFILE_FLAGS:=}"
sha=$(git rev-parse --short=7 HEAD 2>/dev/null || echo nogit)
run_dir=${RUN_DIR:-results/$(date -u +%Y%m%d-%H%M%S)-$sha}
mkdir -p "$run_dir"
go build -o "$run_dir/.poolbench" ./cmd/poolbench
# The default: keep-alive at 16 connections, every switch off alone, both models.
# shellcheck disable=SC2086 # PROFILE_FLAGS is a list of flags
"$run_dir/.poolbench" run -profile -out "$run_dir" -count 1 -loads keepalive -keepalive-conns 16 \
	-variants default -duration 2s $PROFILE_FLAGS
rm -f "$run_dir/.poolbench"
echo
sed -n '/^## Allocations per request/,/^## What each switch/p' "$run_dir/profiles/profiles.md" | sed '$d'
echo "Open one: make pprof RUN=$run_dir CELL=<cell path from the table above>"
