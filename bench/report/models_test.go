package report

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// withThirdModel copies the fixture's bench.txt with every model=nethttp
// line repeated as model=third, and an optional file-level key on top.
func withThirdModel(t *testing.T, top string) *Run {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(fixture, "bench.txt"))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	if top != "" {
		out = append(out, top)
	}
	for _, l := range strings.Split(string(b), "\n") {
		out = append(out, l)
		if strings.HasPrefix(l, "Benchmark") && strings.Contains(l, "/model=nethttp/") {
			out = append(out, strings.Replace(l, "/model=nethttp/", "/model=third/", 1))
		}
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "bench.txt"), []byte(strings.Join(out, "\n")), 0o644); err != nil {
		t.Fatal(err)
	}
	run, err := Read(dir)
	if err != nil {
		t.Fatal(err)
	}
	return run
}

// TestThirdModelEverywhere: a model the report has never heard of appears
// in every table and chart that compares models, against the baseline.
func TestThirdModelEverywhere(t *testing.T) {
	t.Parallel()
	rep := Build(withThirdModel(t, ""))
	for _, s := range rep.Sections {
		if s.ID == "clients" || s.ID == "scenarios" {
			continue // one server, many clients: no model axis
		}
		for _, tb := range s.Tables {
			if tb.Caption == "from the server-only profiles (profiles/profiles.md)" {
				continue // profiles come from their own runs
			}
			if !strings.Contains(strings.Join(tb.Header, "|")+rowsText(tb), "third") {
				t.Errorf("section %s table %q lacks the third model: %v", s.ID, tb.Caption, tb.Header)
			}
		}
		for _, c := range s.Charts {
			if strings.HasPrefix(c.ID, "why-") { // stacked costs: models are the bars' labels, the legend the cost parts
				if !strings.Contains(string(c.SVG), ">third ") {
					t.Errorf("chart %s has no bar labelled for the third model", c.ID)
				}
				continue
			}
			if c.ID == "bursty-over-time" || c.ID == "idle-memory" {
				continue // raw vegeta files per model; idle bars are labelled by category
			}
			if !strings.Contains(string(c.SVG), ">third<") {
				t.Errorf("chart %s has no legend entry for the third model", c.ID)
			}
		}
	}
	says := strings.Join(rep.Says, "\n")
	for _, want := range []string{"keepalive: the third/nethttp req/s ratio", "shortlived: the third/nethttp req/s ratio", "for third.", "and third "} {
		if !strings.Contains(says, want) {
			t.Errorf("'what this run says' lacks %q:\n%s", want, says)
		}
	}
}

// TestDeclaredBaseline: a run whose bench.txt names another baseline is
// compared against it.
func TestDeclaredBaseline(t *testing.T) {
	t.Parallel()
	run := withThirdModel(t, "baseline: fasthttp")
	if got := Baseline(run); got != "fasthttp" {
		t.Fatalf("Baseline = %q, want fasthttp from the file-level key", got)
	}
	md := Build(run).Markdown()
	for _, want := range []string{"| nethttp/fasthttp | third/fasthttp |", "the nethttp/fasthttp req/s ratio"} {
		if !strings.Contains(md, want) {
			t.Errorf("report lacks %q:\n%s", want, md)
		}
	}
}

func rowsText(t Table) string {
	var b strings.Builder
	for _, r := range t.Rows {
		b.WriteString(strings.Join(r, "|"))
	}
	return b.String()
}
