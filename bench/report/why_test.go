package report

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestWhySection renders the why section from the fixture: one stacked
// cost chart per load and connection count of the cost cells, the cost
// tables, the short-lived tail read against the TCP counters, and the
// reconciliation with every layer the fixture measured at keepalive/64.
func TestWhySection(t *testing.T) {
	t.Parallel()
	run, err := Read(fixture)
	if err != nil {
		t.Fatal(err)
	}
	rep := Build(run)
	s := section(rep, "why")
	if s == nil {
		t.Fatalf("no why section; missing: %v", rep.Missing)
	}
	charts := map[string]bool{}
	for _, c := range s.Charts {
		charts[c.ID] = true
		if c.Points == 0 || !strings.Contains(string(c.SVG), "<svg") {
			t.Errorf("chart %s: %d points, want an SVG with bars", c.ID, c.Points)
		}
	}
	for _, id := range []string{"why-keepalive-64", "why-shortlived-256"} {
		if !charts[id] {
			t.Errorf("no chart %s among %v", id, charts)
		}
	}
	rec := table(s, "Reconciliation: keepalive at 64 connections, app route")
	if rec == nil {
		t.Fatalf("no keep-alive reconciliation table among %d tables", len(s.Tables))
	}
	var layers []string
	for _, r := range rec.Rows {
		layers = append(layers, r[0])
	}
	if got, want := strings.Join(layers, ","), "fakeconn,inmem,tcp,process, driver,process, wrk"; got != want {
		t.Errorf("reconciliation layers %q, want %q", got, want)
	}
	says := strings.Join(rep.Says, "\n")
	for _, want := range []string{"Why, keepalive at 64 connections: nethttp spends", "Short-lived tail at 256 connections", "No listen overflow", "Driver vs wrk, keepalive at 64 connections", "Reconciliation, keepalive at 64 connections"} {
		if !strings.Contains(says, want) {
			t.Errorf("findings lack %q:\n%s", want, says)
		}
	}
}

// TestWhyTailSeesOverflows plants SYN retransmits and listen overflows in
// the short-lived cells: the tail is then blamed on the accept queue.
func TestWhyTailSeesOverflows(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile(filepath.Join(fixture, "bench.txt"))
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "BenchmarkProc/") && strings.Contains(l, "/load=shortlived/conns=256/") {
			l = strings.Replace(l, "\t0 listen-overflows", "\t12 listen-overflows", 1)
			l = strings.Replace(l, "\t0 syn-retrans", "\t12 syn-retrans", 1)
		}
		lines = append(lines, l)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "bench.txt"), []byte(strings.Join(lines, "\n")), 0o644); err != nil {
		t.Fatal(err)
	}
	run, err := Read(dir)
	if err != nil {
		t.Fatal(err)
	}
	says := strings.Join(Build(run).Says, "\n")
	if !strings.Contains(says, "The accept queue overflowed") || !strings.Contains(says, "12/0/12/") {
		t.Errorf("with overflows planted, the tail finding does not blame the accept queue:\n%s", says)
	}
}

func section(rep *Report, id string) *Section {
	for _, s := range rep.Sections {
		if s.ID == id {
			return s
		}
	}
	return nil
}

func table(s *Section, caption string) *Table {
	for i := range s.Tables {
		if s.Tables[i].Caption == caption {
			return &s.Tables[i]
		}
	}
	return nil
}
