package merge

import (
	"encoding/json"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/poolbench/poolbench/workloads"
)

// TestClosedResultsHistogram records values on two "hosts", ships each
// histogram through JSON as a host would, merges, and checks the result
// equals one histogram that recorded every value.
func TestClosedResultsHistogram(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(1, 2))
	all := hdrhistogram.New(1, int64(60*time.Second), 3)
	var rs []Closed
	for host, n := range []int{5000, 20000} {
		h := hdrhistogram.New(1, int64(60*time.Second), 3)
		for range n {
			// Hosts see different distributions: averaging their
			// percentiles would be wrong, merging is not.
			v := int64(rng.ExpFloat64()*float64(50_000*(host*20+1))) + 1
			h.RecordValue(v)   //nolint:errcheck
			all.RecordValue(v) //nolint:errcheck
		}
		b, err := json.Marshal(Closed{Workload: "keepalive", Conns: 4, OK: int64(n), Dials: 4, ElapsedNs: int64(time.Second), Errors: workloads.Errors{Status: int64(host)}, Latency: h.Export()})
		if err != nil {
			t.Fatal(err)
		}
		var c Closed
		if err := json.Unmarshal(b, &c); err != nil {
			t.Fatal(err)
		}
		rs = append(rs, c)
	}
	m, err := ClosedResults(rs)
	if err != nil {
		t.Fatal(err)
	}
	if m.OK != 25000 || m.Conns != 8 || m.Dials != 8 || m.Errors.Total() != 1 || m.Rate != 25000 {
		t.Errorf("merged counts ok=%d conns=%d dials=%d errors=%d rate=%g, want 25000, 8, 8, 1, 25000", m.OK, m.Conns, m.Dials, m.Errors.Total(), m.Rate)
	}
	if m.Latency == nil || !m.Latency.Equals(all) {
		t.Fatalf("merged histogram differs from one histogram of every value")
	}
	for _, q := range []float64{50, 99, 99.9} {
		if got, want := m.Latency.ValueAtQuantile(q), all.ValueAtQuantile(q); got != want {
			t.Errorf("p%g = %d, want %d", q, got, want)
		}
	}
	// A host without its histogram leaves the merge without percentiles
	// rather than guessing them.
	rs[1].Latency = nil
	if m, err := ClosedResults(rs); err != nil || m.Latency != nil || m.OK != 25000 {
		t.Errorf("a host without a histogram: latency %v, ok %d, err %v; want no latency, 25000", m.Latency, m.OK, err)
	}
	rs[1].Workload = "shortlived"
	if _, err := ClosedResults(rs); err == nil {
		t.Error("merging keepalive with shortlived succeeded, want an error")
	}
}

// attack runs a real vegeta attack of n requests against a loopback
// server and writes its results to path.
func attack(t *testing.T, url string, n int, path string) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	enc := vegeta.NewEncoder(f)
	atk := vegeta.NewAttacker(vegeta.Workers(4))
	tr := vegeta.NewStaticTargeter(vegeta.Target{Method: "GET", URL: url})
	rate := vegeta.Rate{Freq: 2000, Per: time.Second}
	for res := range atk.Attack(tr, rate, time.Duration(n)*time.Second/2000, "merge-test") {
		if err := enc.Encode(res); err != nil {
			t.Fatal(err)
		}
	}
}

func TestOpenFiles(t *testing.T) {
	t.Parallel()
	var served atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		served.Add(1)
		w.Write([]byte("ok")) //nolint:errcheck
	}))
	defer srv.Close()
	dir := t.TempDir()
	a, b := filepath.Join(dir, "lg1.vegeta.bin"), filepath.Join(dir, "lg2.vegeta.bin")
	attack(t, srv.URL, 300, a)
	attack(t, srv.URL, 500, b)
	var one [2]uint64
	for i, p := range []string{a, b} {
		o, err := OpenFiles([]string{p})
		if err != nil {
			t.Fatal(err)
		}
		one[i] = o.Metrics.Requests
	}
	o, err := OpenFiles([]string{a, b})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("vegeta files: %d + %d requests; merged %d; server served %d", one[0], one[1], o.Metrics.Requests, served.Load())
	if o.Metrics.Requests != one[0]+one[1] || int64(o.Metrics.Requests) != served.Load() {
		t.Fatalf("merged %d requests, want %d + %d = %d, the server's %d", o.Metrics.Requests, one[0], one[1], one[0]+one[1], served.Load())
	}
	ok, ms := o.Line()
	if ok != served.Load() {
		t.Errorf("merged line counts %d successes, want %d", ok, served.Load())
	}
	if ms[len(ms)-1].Unit != "errors" || ms[len(ms)-1].Value != 0 {
		t.Errorf("errors metric %v, want 0", ms[len(ms)-1])
	}
	if _, err := OpenFiles([]string{filepath.Join(dir, "missing.bin")}); err == nil {
		t.Error("a missing file merged, want an error")
	}
}

func TestLinesAndWrite(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(name string, rs ...HostResult) []HostResult {
		var sb strings.Builder
		for _, r := range rs {
			b, _ := json.Marshal(r)
			sb.Write(b)
			sb.WriteByte('\n')
		}
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(sb.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		got, err := ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	cell := "Proc/model=fasthttp/load=keepalive/conns=4"
	c := func(ok int64) *Closed {
		return &Closed{Workload: "keepalive", Conns: 4, OK: ok, ElapsedNs: int64(time.Second)}
	}
	h1 := write("lg1.jsonl", HostResult{Host: "ssh lg1", Cell: cell, Closed: c(100)}, HostResult{Host: "ssh lg1", Cell: cell, Run: 1, Closed: c(10)})
	h2 := write("lg2.jsonl", HostResult{Host: "ssh lg2", Cell: cell, Run: 1, Closed: c(20)}, HostResult{Host: "ssh lg2", Cell: cell, Closed: c(300)})
	lines, err := Lines([][]HostResult{h1, h2})
	if err != nil {
		t.Fatal(err)
	}
	if len(lines) != 2 || lines[0].Iters != 400 || lines[1].Iters != 30 {
		t.Fatalf("lines %+v, want run 0 with 400 requests, run 1 with 30", lines)
	}
	var sb strings.Builder
	if err := Write(&sb, []string{"ssh lg1", "ssh lg2"}, lines); err != nil {
		t.Fatal(err)
	}
	out := sb.String()
	for _, want := range []string{"load-hosts: ssh lg1, ssh lg2\n", "load-host-count: 2\n", "Benchmark" + cell + "\t400\t2500000 ns/op\t400 req/s\t0 errors\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("merged file lacks %q:\n%s", want, out)
		}
	}
	// A host missing a cell run is an error, not a smaller sum.
	h3 := write("lg3.jsonl", HostResult{Host: "ssh lg3", Cell: cell, Closed: c(1)}, HostResult{Host: "ssh lg3", Cell: cell, Run: 2, Closed: c(1)})
	if _, err := Lines([][]HostResult{h1, h3}); err == nil || !strings.Contains(err.Error(), "no cell") {
		t.Errorf("merging with a host missing run 1: %v, want an error naming it", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "bad.jsonl"), []byte(`{"host":"x","cell":"c"}`+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadFile(filepath.Join(dir, "bad.jsonl")); err == nil {
		t.Error("a result with neither closed nor vegeta was read, want an error")
	}
}
