package gate

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// pairScript stands in for a benchmark binary: it announces itself in a
// rendezvous folder, waits (up to 10 s) for the other side, then reads its
// CPU mask over and over for 0.3 s (not at a fixed period, which could keep
// in step with the swaps), and prints a warm-up line and two
// results (after a warm-up line of each): x, how many distinct CPUs it was pinned to, and y, how many
// readings were not a single CPU.
const pairScript = `#!/bin/sh
dir=$1; me=$2; other=$3
touch "$dir/$me"
i=0
while [ ! -e "$dir/$other" ]; do
	i=$((i+1)); [ $i -gt 200 ] && { echo "$other never ran alongside $me" >&2; exit 1; }
	sleep 0.05
done
seen=""
start=$(date +%s%N)
while [ $(( $(date +%s%N) - start )) -lt 300000000 ]; do
	seen="$seen $(awk '/^Cpus_allowed_list/ {print $2}' /proc/self/status)"
done
distinct=$(echo $seen | tr ' ' '\n' | sort -u | wc -l)
multi=$(echo $seen | tr ' ' '\n' | grep -c '[-,]')
printf 'BenchmarkServer/x\t1\t9 ns/op\nBenchmarkServer/y\t1\t9 ns/op\n'
printf 'BenchmarkServer/x\t1\t%s ns/op\n' "$distinct"
printf 'BenchmarkServer/y\t1\t%s ns/op\n' "$multi"
`

// TestSamplePairRunsBothAtOncePinnedAndSwapped: paired execution starts
// base and head together (each waits for the other) and, while they run,
// keeps each pinned to one CPU at a time, swapping them every SwapEvery:
// each sees both CPUs.
func TestSamplePairRunsBothAtOncePinnedAndSwapped(t *testing.T) {
	var set unix.CPUSet
	if err := unix.SchedGetaffinity(0, &set); err != nil || !set.IsSet(PairedCPUs[0]) || !set.IsSet(PairedCPUs[1]) {
		t.Skip("needs cpus 0 and 1")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "bench.test")
	if err := os.WriteFile(bin, []byte(pairScript), 0o755); err != nil {
		t.Fatal(err)
	}
	w, err := newWork(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer w.close() //nolint:errcheck
	bs, hs := &build{name: "base", bin: bin}, &build{name: "head", bin: bin}
	for _, s := range []*build{bs, hs} {
		if s.out, err = os.Create(filepath.Join(dir, s.name+".txt")); err != nil {
			t.Fatal(err)
		}
	}
	for round := range 2 {
		meet := filepath.Join(dir, "round"+string(rune('0'+round)))
		if err := os.Mkdir(meet, 0o755); err != nil {
			t.Fatal(err)
		}
		bs.args, hs.args = []string{meet, "base", "head"}, []string{meet, "head", "base"}
		if err := w.samplePair(context.Background(), bs, hs, nil, round); err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
	}
	// Per round: x (distinct CPUs seen) 2, y (readings of more than one
	// CPU) 0.
	want := map[string]string{"base": "2 ns/op,0 ns/op,2 ns/op,0 ns/op", "head": "2 ns/op,0 ns/op,2 ns/op,0 ns/op"}
	for _, s := range []*build{bs, hs} {
		s.out.Close()
		b, err := os.ReadFile(s.out.Name())
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
			f := strings.Split(l, "\t")
			got = append(got, f[len(f)-1])
		}
		if strings.Join(got, ",") != want[s.name] {
			t.Errorf("%s: distinct cpus and readings of several, per round, as ns/op (warm-up dropped): %v, want %s", s.name, got, want[s.name])
		}
	}
}
