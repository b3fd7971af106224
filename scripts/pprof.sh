#!/usr/bin/env bash
# pprof.sh is `make pprof`: opens go tool pprof's web UI, on loopback, on
# one cell's profile. CELL is the cell path (as in profiles.md), RUN the run
# folder (default: the newest with profiles), KIND allocs (default) or cpu.
set -euo pipefail
cd "$(dirname "$0")/.."

: "${KIND:=allocs}"
if [ -z "${RUN:-}" ]; then
	# The newest run that holds profiles.
	for d in $(ls -d results/2*/ 2>/dev/null | sort -r); do
		if find "$d/profiles" -name '*.pb.gz' -print -quit 2>/dev/null | grep -q .; then
			RUN=${d%/}
			break
		fi
	done
fi
if [ -z "${RUN:-}" ] || [ ! -d "$RUN/profiles" ]; then
	echo "poolbench: no profiles under results/: run make profile (or make bench PROFILE=1) first" >&2
	exit 2
fi
file="$RUN/profiles/${CELL:-}/$KIND.pb.gz"
if [ -z "${CELL:-}" ] || [ ! -f "$file" ]; then
	echo "poolbench: no $KIND profile for CELL='${CELL:-}' in $RUN; profiled cells:" >&2
	find "$RUN/profiles" -name "$KIND.pb.gz" | sed "s|^$RUN/profiles/||; s|/$KIND.pb.gz$||; s|^|  |" >&2
	exit 2
fi
index=""
if [ "$KIND" = allocs ]; then index="-sample_index=alloc_objects"; fi
exec go tool pprof -http=127.0.0.1:0 $index "$file"
