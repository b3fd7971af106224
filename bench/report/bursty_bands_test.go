package report

import (
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/poolbench/poolbench/workloads"
)

// plantedRun copies the fixture run and replaces its bursty cells' vegeta
// results with bursts of perBurst requests 500 µs apart, silences of the
// cells' 300 ms between them, each request's trace made by plant from its
// position in its burst.
func plantedRun(t *testing.T, bursts, perBurst int, plant func(pos int) workloads.Trace) *Run {
	t.Helper()
	dir := t.TempDir()
	b, err := os.ReadFile(filepath.Join(fixture, "bench.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "bench.txt"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	run, err := Read(dir)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC)
	for _, c := range run.Where(".name:Proc /load:bursty") {
		path := vegetaPath(run, c)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		f, err := os.Create(path)
		if err != nil {
			t.Fatal(err)
		}
		enc := vegeta.NewEncoder(f)
		seq := uint64(0)
		for k := range bursts {
			for i := range perBurst {
				tr := plant(i)
				tr.Conn, tr.OnConn = int64(k+1), int64(i)
				res := vegeta.Result{Attack: "bursty", Seq: seq, Code: 200,
					Timestamp: start.Add(time.Duration(k)*(300*time.Millisecond+time.Duration(perBurst)*500*time.Microsecond) + time.Duration(i)*500*time.Microsecond),
					Latency:   time.Duration(tr.Late + tr.Wait + tr.Server + tr.Read),
					Headers:   http.Header{workloads.TraceHeader: {string(workloads.AppendTrace(nil, tr))}}}
				if err := enc.Encode(&res); err != nil {
					t.Fatal(err)
				}
				seq++
			}
		}
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
	}
	return run
}

// fast is a request of the fast band: 300 µs, most of it write→response.
func fast() workloads.Trace {
	return workloads.Trace{Late: 20_000, Wait: 30_000, Server: 220_000, Read: 30_000}
}

// A delay planted in the server's answer to the first request after every
// silence makes a band of exactly those requests, blamed on write→response
// and on the first of a burst; the position table counts every request
// exactly once.
func TestBurstyBandsPlantedFirstRequestDelay(t *testing.T) {
	t.Parallel()
	const bursts, per = 20, 10
	run := plantedRun(t, bursts, per, func(pos int) workloads.Trace {
		tr := fast()
		if pos == 0 {
			tr.Server += 800_000 // the planted delay
		}
		return tr
	})
	rep := Build(run)
	s := section(rep, "bursty")
	if s == nil {
		t.Fatalf("no bursty section; missing %v", rep.Missing)
	}
	bt := table(s, "Latency bands, silence 300ms: medians of the parts of each band's latency")
	pt := table(s, "Latency by position in the burst, silence 300ms")
	if bt == nil || pt == nil {
		t.Fatalf("no bands or position table among %d tables; missing %v", len(s.Tables), rep.Missing)
	}
	for _, m := range []string{"fasthttp", "nethttp"} {
		var bands []string
		for _, r := range bt.Rows {
			if r[0] == m {
				bands = append(bands, r[1]+" "+r[2])
				if r[1] == "~1.100ms" && !strings.HasPrefix(r[len(r)-1], "write→response") {
					t.Errorf("%s: the slow band's largest part is %q, want the planted write→response", m, r[len(r)-1])
				}
			}
		}
		if want := []string{"~300.0µs 180 (90%)", "~1.100ms 20 (10%)"}; strings.Join(bands, ",") != strings.Join(want, ",") {
			t.Errorf("%s bands %q, want %q", m, bands, want)
		}
		total := 0
		for _, r := range pt.Rows {
			if r[0] == m {
				n, err := strconv.Atoi(strings.Fields(r[2])[0])
				if err != nil {
					t.Fatal(err)
				}
				total += n
				if r[1] == "1st of a burst" && n != bursts {
					t.Errorf("%s: %d requests first of a burst, want %d", m, n, bursts)
				}
			}
		}
		if total != bursts*per {
			t.Errorf("%s: the position table counts %d requests, want each of the %d once", m, total, bursts*per)
		}
	}
	says := strings.Join(rep.Says, "\n")
	for _, want := range []string{"Bursty bands, fasthttp at silence 300ms: the ~1.100ms band (20 requests, 10%) against the ~300.0µs band (180, 90%) is time from the write to the response's first bytes",
		"1st of burst 100% vs 0%"} {
		if !strings.Contains(says, want) {
			t.Errorf("findings lack %q:\n%s", want, says)
		}
	}
}

// Every other request sent 700 µs late by the pacer: two bands of half
// the requests each, blamed on the pacer, with the server's part the same.
func TestBurstyBandsPlantedPacerLateness(t *testing.T) {
	t.Parallel()
	run := plantedRun(t, 5, 100, func(pos int) workloads.Trace {
		tr := fast()
		if pos%2 == 1 {
			tr.Late += 700_000
		}
		return tr
	})
	says := strings.Join(Build(run).Says, "\n")
	want := "Bursty bands, nethttp at silence 300ms: the ~1.000ms band (250 requests, 50%) against the ~300.0µs band (250, 50%) is the load's pacer sending late"
	if !strings.Contains(says, want) {
		t.Errorf("findings lack %q:\n%s", want, says)
	}
}

// One mode is one band, and the finding says there is no second.
func TestBurstyBandsOneMode(t *testing.T) {
	t.Parallel()
	run := plantedRun(t, 3, 50, func(int) workloads.Trace { return fast() })
	says := strings.Join(Build(run).Says, "\n")
	if !strings.Contains(says, "Bursty bands, fasthttp at silence 300ms: one band (~300.0µs") {
		t.Errorf("a unimodal run's finding does not say one band:\n%s", says)
	}
}

// The pacer wakes every 1.093 ms while hits are due every 500 µs: every hit
// waits for the next wake-up, latencies spread evenly over 0.1–1.2 ms in
// one band, and the spread is blamed on the pacer's wake-ups; the
// over-time chart's LTTB points sit at the spread's edges.
func TestBurstySpreadFromPacerWakeups(t *testing.T) {
	t.Parallel()
	const per, spacing, wake = 2000, 500_000, 1_093_000
	run := plantedRun(t, 3, per, func(pos int) workloads.Trace {
		tr := fast()
		due := int64(pos) * spacing
		next := (due + wake - 1) / wake * wake // the next wake-up
		tr.Late = next - due
		if prev := due - spacing; pos > 0 && (prev+wake-1)/wake*wake != next {
			tr.Sleep = spacing - (next - wake - prev) // the first hit of its wake-up: the pacer slept for it
		}
		return tr
	})
	says := strings.Join(Build(run).Says, "\n")
	for _, want := range []string{
		"Bursty bands, fasthttp at silence 300ms: one band",
		"Hits are due every 500.0µs; the pacer woke a median 1.093ms apart",
		"A Go timer here wakes up to about 1 ms late",
		"its two lines are the edges of this spread, not two bands",
	} {
		if !strings.Contains(says, want) {
			t.Errorf("findings lack %q:\n%s", want, says)
		}
	}
}

// Every request matches exactly one position group, whatever its place in
// its burst and its connection's history, and byPosition counts it once.
func TestBurstyPositionsCountEveryRequestOnce(t *testing.T) {
	t.Parallel()
	var reqs []tracedReq
	for pos := range 40 {
		for _, on := range []int64{0, 1, 7} {
			r := tracedReq{pos: pos}
			r.t.OnConn = on
			reqs = append(reqs, r)
			matches := 0
			for _, p := range positions {
				if p.in(r) {
					matches++
				}
			}
			if matches != 1 {
				t.Errorf("request at position %d, %d before it on its connection: in %d position groups, want 1", pos, on, matches)
			}
		}
	}
	total := 0
	for _, g := range byPosition(reqs) {
		total += len(g)
	}
	if total != len(reqs) {
		t.Errorf("byPosition counts %d requests of %d", total, len(reqs))
	}
}
