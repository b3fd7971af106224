package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/poolbench/poolbench/bench"
	"github.com/poolbench/poolbench/bench/report"
	"github.com/poolbench/poolbench/bench/results"
	"github.com/poolbench/poolbench/internal/lock"
	"github.com/poolbench/poolbench/servers"
)

// asMain makes this test binary act as poolbench: `poolbench run` started
// from a test starts the test binary as its server and load processes, and
// they must know the test-only rows (ext_*_test.go) too.
const asMain = "POOLBENCH_TEST_AS_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(asMain) == "1" {
		main()
		os.Exit(0)
	}
	// Their own CPU lock folder (tests that need a particular one set
	// POOLBENCH_LOCK_DIR themselves).
	os.Exit(lock.RunIsolated(m))
}

// TestExtensions runs the test-only model (ext_model_test.go), workload
// (ext_workload_test.go) and switch (ext_switch_test.go), each one file and
// one registry row, through the in-process matrix and a short `poolbench
// run`, and finds them in the cell names, bench.txt, allocs/op and the
// report of that run.
func TestExtensions(t *testing.T) {
	if servers.Baseline().Name != "nethttp" || servers.Names()[2] != "nethttp_mux" {
		t.Fatalf("models %v, baseline %s: want the test model third and nethttp still the baseline", servers.Names(), servers.Baseline().Name)
	}

	// In-process: the bench package's own cell runner over a matrix
	// selecting the extensions by name.
	m, err := bench.Spec{Transports: "inmem", Models: "nethttp_mux", Routes: "app", Loads: "fewreq",
		Conns: "2", Variants: "all-on;ballast=off"}.Parse()
	if err != nil {
		t.Fatal(err)
	}
	allocs := map[string]int64{}
	for _, c := range m.Cells() {
		res := testing.Benchmark(func(b *testing.B) { bench.RunCell(b, c) })
		if res.N == 0 {
			t.Fatalf("in-process cell %s failed", c.Name())
		}
		allocs[c.Key().Get("ballast")] = res.AllocsPerOp()
		if want := "transport=inmem/model=nethttp_mux/route=app/load=fewreq/conns=2/pool=on/conv=on/reuse=on/ballast="; !strings.HasPrefix(c.Name(), want) {
			t.Errorf("in-process cell %s, want %s…", c.Name(), want)
		}
	}
	if allocs["off"] < allocs["on"]+3 {
		t.Errorf("in-process allocs/op: ballast=off %d, on %d: want off at least 3 more (it allocates 4)", allocs["off"], allocs["on"])
	}

	// Process layer: poolbench run, its children being this binary.
	t.Setenv(asMain, "1")
	dir := t.TempDir()
	err = runCmd(context.Background(), []string{"-out", dir, "-count", "1", "-duration", "300ms", "-warmup", "100ms",
		"-models", "nethttp_mux,nethttp", "-loads", "fewreq,keepalive", "-keepalive-conns", "2", "-fewreq-conns", "3",
		"-fewreq-requests", "4", "-variants", "all-on;ballast=off",
		"-noise=false"}) // a functional check: the machine's noise is not its business

	if err != nil {
		t.Fatal(err)
	}
	got, err := results.Read(filepath.Join(dir, "bench.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2*2*2 {
		t.Errorf("bench.txt has %d cells, want 8 (2 models × 2 loads × 2 variants): %v", len(got), got)
	}
	for _, model := range []string{"nethttp_mux", "nethttp"} {
		name := func(load, conns, ballast string) string {
			return "Proc/model=" + model + "/client=driver/route=app/load=" + load + "/conns=" + conns +
				"/gap=na/mem=default/pool=on/conv=on/reuse=on/ballast=" + ballast
		}
		on, off := got[name("fewreq", "3", "on")], got[name("fewreq", "3", "off")]
		if on == nil || off == nil || got[name("keepalive", "2", "on")] == nil {
			t.Errorf("bench.txt lacks %s cells: have %v", model, got)
			continue
		}
		// -fewreq-requests 4 reached the load process: a dial per 4 requests.
		rps, _ := on.Value("req/s")
		cps, ok := on.Value("connects/s")
		if !ok || cps < 0.15*rps || cps > 0.4*rps {
			t.Errorf("%s: connects/s %.0f for %.0f req/s, want about a quarter (4 requests per connection)", on.Name, cps, rps)
		}
		// The switch's allocations, read where no connection is opened or
		// closed in the window (fewreq's dials move its allocs/op by a few
		// from run to run: 3.5 then 1.7 apart measured for the same code).
		kOn, kOff := got[name("keepalive", "2", "on")], got[name("keepalive", "2", "off")]
		if kOff == nil {
			t.Errorf("bench.txt lacks %s keepalive ballast=off: have %v", model, got)
			continue
		}
		aOn, _ := kOn.Value("allocs/op")
		aOff, _ := kOff.Value("allocs/op")
		t.Logf("%s: keep-alive allocs/op ballast=off %.2f, on %.2f; fewreq connects/s %.0f for %.0f req/s", model, aOff, aOn, cps, rps)
		if aOff < aOn+3 {
			t.Errorf("%s: keep-alive allocs/op ballast=off %.2f, on %.2f: want at least 3 more (the switch allocates 4)", model, aOff, aOn)
		}
	}

	// The report: the third model against the baseline, the new switch
	// among the variants, the new workload in the throughput section, from
	// the same run folder.
	run, err := report.Read(dir)
	if err != nil {
		t.Fatal(err)
	}
	md := report.Build(run).Markdown()
	for _, want := range []string{
		"| nethttp_mux req/s |", "| nethttp_mux/nethttp |", // the throughput table, against the baseline
		"| nethttp_mux | ballast off |", "| nethttp | ballast off |", // what each technique buys, process layer
		"fewreq; ratios are req/s per round", "fewreq: the nethttp_mux/nethttp req/s ratio", // the new workload's table and finding
	} {
		if !strings.Contains(md, want) {
			t.Errorf("the report of the run lacks %q:\n%s", want, md)
		}
	}
}
