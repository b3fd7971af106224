package compare

import (
	"bufio"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/perf/benchmath"
	"golang.org/x/perf/benchproc"
)

var update = flag.Bool("update", false, "rewrite testdata/scaled/bench.txt from the reference run")

const (
	reference = "../../results/reference"
	scaled    = "testdata/scaled"
	// nethttpScale multiplies net/http's keep-alive req/s in the fixture:
	// every fasthttp/nethttp keep-alive ratio grows by 1/nethttpScale.
	nethttpScale = 0.5
)

// scaledRun derives the fixture from the reference run: the process
// layer's keep-alive and short-lived cells only, net/http's keep-alive
// throughput scaled by nethttpScale (ns/op by its inverse), another kernel
// and no cpu key, as a run on another machine would have.
func scaledRun(ref []byte) ([]byte, error) {
	var out bytes.Buffer
	out.WriteString("commit: fixture\ndate: 2026-11-23T00:00:00Z\n")
	sc := bufio.NewScanner(bytes.NewReader(ref))
	sc.Buffer(nil, 1<<20)
	header, process := true, false
	for sc.Scan() {
		line := sc.Text()
		k, v, isKey := strings.Cut(line, ": ")
		switch {
		case header && line == "":
			header = false
		case header && isKey:
			switch k {
			case "kernel":
				fmt.Fprintf(&out, "kernel: Linux-6.19.0-other\n")
			case "go-version", "fasthttp-version", "num-cpu":
				fmt.Fprintf(&out, "%s: %s\n", k, v)
			}
		case line == "layer: process":
			process = true
			out.WriteString("\n" + line + "\n")
		case process && !strings.HasPrefix(line, "Benchmark"):
			out.WriteString(line + "\n")
		case process && (strings.Contains(line, "/load=keepalive/") || strings.Contains(line, "/load=shortlived/")) &&
			strings.Contains(line, "/client=driver/") && strings.Contains(line, "/pool=on/conv=on/reuse=on"): // the sweep's cells
			f := strings.Fields(line)
			if strings.Contains(line, "/model=nethttp/") && strings.Contains(line, "/load=keepalive/") {
				for i := 3; i < len(f); i += 2 {
					x, err := strconv.ParseFloat(f[i-1], 64)
					if err != nil {
						return nil, fmt.Errorf("%q: %v", line, err)
					}
					switch f[i] {
					case "req/s":
						f[i-1] = strconv.FormatFloat(x*nethttpScale, 'g', 8, 64)
					case "ns/op":
						f[i-1] = strconv.FormatFloat(x/nethttpScale, 'g', 8, 64)
					}
				}
			}
			out.WriteString(strings.Join(f, "\t") + "\n")
		}
	}
	return out.Bytes(), sc.Err()
}

// TestFixture checks testdata/scaled is what scaledRun makes of the
// reference run (go test -update rewrites it).
func TestFixture(t *testing.T) {
	ref, err := os.ReadFile(filepath.Join(reference, "bench.txt"))
	if err != nil {
		t.Fatal(err)
	}
	want, err := scaledRun(ref)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(scaled, "bench.txt")
	if *update {
		if err := os.MkdirAll(scaled, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, want, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s is not what scaledRun makes of %s: run go test ./bench/compare -run TestFixture -update", path, reference)
	}
}

func read(t *testing.T, label string, paths ...string) *Run {
	t.Helper()
	r, err := Read(label, paths, nil)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestCompareScaled(t *testing.T) {
	t.Parallel()
	c := Compare(read(t, "A", reference), read(t, "B", scaled), Options{Baseline: "nethttp", RatioUnits: []string{"req/s"}})

	var differ []string
	for _, e := range c.MachineDiffers() {
		differ = append(differ, e.Key)
	}
	if got, want := strings.Join(differ, ","), "cpu,kernel,goos,goarch"; got != want {
		t.Errorf("machine keys that differ: got %s, want %s (%+v)", got, want, c.Machine)
	}
	for _, e := range c.Machine {
		if e.Key == "cpu" && (e.A == Unknown || e.A == "" || e.B != Unknown) {
			t.Errorf("cpu: got %q → %q, want the reference's CPU → %s", e.A, e.B, Unknown)
		}
	}

	verdicts := map[string]int{}
	for _, r := range c.Ratios {
		if !strings.HasPrefix(r.Group, "Proc/") || r.Base != "nethttp" || r.Other != "fasthttp" {
			t.Errorf("ratio %s %s/%s: want only Proc cells, fasthttp/nethttp", r.Group, r.Other, r.Base)
			continue
		}
		want := "unchanged"
		if strings.Contains(r.Group, "/load=keepalive/") {
			want = "grew"
			// Every pair is scaled alike, so the median moves by exactly 1/scale.
			if got := r.B.Center / r.A.Center; math.Abs(got*nethttpScale-1) > 1e-6 {
				t.Errorf("%s: ratio moved ×%.4f, want ×%.4f", r.Group, got, 1/nethttpScale)
			}
		}
		if got := r.Verdict(); got != want {
			t.Errorf("%s: verdict %s (A %+v, B %+v, %s), want %s", r.Group, got, r.A, r.B, r.Cmp, want)
		}
		verdicts[r.Verdict()]++
	}
	if verdicts["grew"] != 5 || verdicts["unchanged"] != 2 {
		t.Errorf("verdicts %v, want 5 grew (keep-alive 1…1024) and 2 unchanged (short-lived 16, 256)", verdicts)
	}
	if len(c.OnlyB) != 0 || len(c.OnlyA) == 0 {
		t.Errorf("%d cells only in A, %d only in B: want the reference's other cells only in A, none only in B", len(c.OnlyA), len(c.OnlyB))
	}

	rows := 0
	for _, tb := range c.Tables {
		if tb.Base != "Proc" || tb.Unit != "req/s" {
			continue
		}
		for _, r := range tb.Rows {
			rows++
			want := "~"
			if strings.HasPrefix(r.Cell, "model=nethttp/") && strings.Contains(r.Cell, "/load=keepalive/") {
				want = "-50.00%"
			}
			if got := r.Delta(); got != want {
				t.Errorf("%s req/s: delta %s (%s), want %s", r.Cell, got, r.Cmp, want)
			}
		}
	}
	if rows != 14 {
		t.Errorf("%d Proc req/s rows, want 14 (7 cells × 2 models)", rows)
	}

	var text, md bytes.Buffer
	if err := c.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	if err := c.WriteMarkdown(&md); err != nil {
		t.Fatal(err)
	}
	for name, out := range map[string]string{"text": text.String(), "markdown": md.String()} {
		m, r, p := strings.Index(out, "Machine"), strings.Index(out, "Headline ratios"), strings.Index(out, "Proc · req/s")
		if m < 0 || r < m || p < r {
			t.Errorf("%s: want the machine first, then the headline ratios, then the cells (at %d, %d, %d)", name, m, r, p)
		}
		if !strings.Contains(out, "DIFFERENT: cpu, kernel, goos, goarch") {
			t.Errorf("%s: no call-out of the machine differences", name)
		}
		if !strings.Contains(out, "7 ratios: 5 grew, 0 shrank, 2 unchanged") {
			t.Errorf("%s: no ratio tally", name)
		}
	}
	if !strings.Contains(md.String(), "| cell | A | B | vs A |") {
		t.Errorf("markdown: no pipe table of cells:\n%s", md.String())
	}
}

// TestCompareSetsOfRuns compares a set of two runs with one: pairs are
// taken within each file, so the set's ratios have twice the samples.
func TestCompareSetsOfRuns(t *testing.T) {
	t.Parallel()
	c := Compare(read(t, "A", scaled, scaled), read(t, "B", scaled), Options{Baseline: "nethttp", RatioUnits: []string{"req/s"}})
	if len(c.Ratios) != 7 {
		t.Fatalf("%d ratios, want 7", len(c.Ratios))
	}
	for _, r := range c.Ratios {
		if len(r.PairsA) != 2*len(r.PairsB) || r.Verdict() != "unchanged" {
			t.Errorf("%s: %d+%d pairs, verdict %s: want twice B's pairs in A and unchanged", r.Group, len(r.PairsA), len(r.PairsB), r.Verdict())
		}
	}
}

func TestMinP(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		n1, n2 int
		want   float64
	}{{1, 1, 1}, {2, 5, 2.0 / 21}, {5, 5, 2.0 / 252}, {6, 6, 2.0 / 924}} {
		if got := minP(tc.n1, tc.n2); math.Abs(got-tc.want) > 1e-12 {
			t.Errorf("minP(%d, %d) = %g, want %g", tc.n1, tc.n2, got, tc.want)
		}
	}
	// The verdict of a ratio with too few pairs is unclear, not unchanged.
	r := Ratio{PairsA: []float64{1, 1.1, 1.2, 1.3, 1.4}, PairsB: []float64{1.2, 1.3}, Cmp: benchmath.Comparison{P: 0.19, Alpha: 0.05}}
	if got := r.Verdict(); got != "unclear" {
		t.Errorf("5+2 pairs, p=0.19: verdict %s, want unclear", got)
	}
}

func TestReadRejects(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(name, s string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for _, tc := range []struct{ name, path string }{
		{"missing folder", filepath.Join(dir, "nope")},
		{"folder without bench.txt", t.TempDir()},
		{"junk", write("junk.txt", "hello\nthis is not a benchmark\n")},
		{"empty", write("empty.txt", "")},
		{"other benchmarks", write("other.txt", "BenchmarkFoo-2\t100\t10 ns/op\n")},
		{"malformed line", write("bad.txt", "BenchmarkProc/model=fasthttp/load=keepalive\t100\tten ns/op\n")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Read("A", []string{tc.path}, nil)
			if !errors.Is(err, ErrInput) {
				t.Fatalf("Read(%s): got %v, want an ErrInput", tc.path, err)
			}
		})
	}
}

func TestFilter(t *testing.T) {
	t.Parallel()
	f, err := benchproc.NewFilter("/load:shortlived")
	if err != nil {
		t.Fatal(err)
	}
	r, err := Read("B", []string{scaled}, f)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.order) != 4 {
		t.Errorf("%d cells after -filter /load:shortlived, want 4: %v", len(r.order), r.order)
	}
}
