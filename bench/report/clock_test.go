package report

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestClockAdjustment plants a known speed effect: every closed-loop cell's
// req/s falls 1% per 1% of clock slowdown, on top of its own level. The fit
// must find that slope, the adjusted samples must lose the planted spread,
// the raw samples stay in Raw, and an open-loop cell is left alone.
func TestClockAdjustment(t *testing.T) {
	var b strings.Builder
	b.WriteString("goos: linux\n\n")
	clocks := []float64{0, 4, 1, 6, 2}
	for ci, model := range []string{"fasthttp", "nethttp"} {
		for _, conns := range []int{16, 64, 256} {
			level := float64(100000 * (ci + 1) * conns / 16)
			for _, x := range clocks {
				v := level * math.Exp(-0.01*x)
				fmt.Fprintf(&b, "BenchmarkProc/model=%s/client=driver/route=app/load=keepalive/conns=%d/gap=na/mem=default/pool=on/conv=on/reuse=on 1 %g req/s %g server-clock-slow-pct %g load-clock-slow-pct\n",
					model, conns, v, x, x)
			}
		}
	}
	for _, x := range clocks { // open loop: its rate is the load's, not the CPUs'
		fmt.Fprintf(&b, "BenchmarkProc/model=fasthttp/client=driver/route=app/load=bursty/conns=0/gap=500ms/mem=default/pool=on/conv=on/reuse=on 1 %g req/s %g server-clock-slow-pct %g load-clock-slow-pct\n", 2000-x, x, x)
	}
	r := readBench(t, b.String())
	var fit *ClockFit
	for i := range r.ClockFits {
		if r.ClockFits[i].Unit == "req/s" {
			fit = &r.ClockFits[i]
		}
	}
	if fit == nil {
		t.Fatalf("no req/s fit in %+v", r.ClockFits)
	}
	if math.Abs(fit.Slope+0.01) > 1e-9 || fit.Cells != 6 {
		t.Errorf("fit %+v: want slope -0.01 over the 6 closed-loop cells", *fit)
	}
	if fit.RawCV[0] < 1 || fit.AdjCV[1] > 1e-6 {
		t.Errorf("CV raw %v adjusted %v: want the planted spread (≥ 1%%) gone", fit.RawCV, fit.AdjCV)
	}
	for _, c := range r.Cells {
		if c.Keys["load"] == "bursty" {
			if c.Raw != nil || c.Values["req/s"][1] != 1996 {
				t.Errorf("open-loop cell adjusted: %v (raw %v)", c.Values["req/s"], c.Raw)
			}
			continue
		}
		if got := c.Raw["req/s"]; len(got) != len(clocks) || got[0] == got[1] {
			t.Errorf("%s: raw samples %v not kept", c.Keys["model"], got)
		}
	}
}

// readBench reads a run folder holding only bench.txt with text.
func readBench(t *testing.T, text string) *Run {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "bench.txt"), []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	r, err := Read(dir)
	if err != nil {
		t.Fatal(err)
	}
	return r
}
