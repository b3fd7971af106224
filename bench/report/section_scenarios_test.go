package report

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/poolbench/poolbench/workloads/observe"
	"github.com/poolbench/poolbench/workloads/scenarios"
)

// TestScenariosSection renders a scenarios.json holding a churn row with
// a socket timeline, an unmeasured row and a phase table, plus a junk line.
func TestScenariosSection(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	var tl observe.Timeline
	for i := range 8 {
		tl.Samples = append(tl.Samples, observe.Snapshot{At: time.Duration(i) * 20 * time.Millisecond,
			Client: observe.States{TimeWait: 10 * i, Established: 3}})
	}
	tw := 70
	churn := &scenarios.Outcome{Rows: []scenarios.Row{
		{Role: "before", Config: "default", Requests: 100, OK: 100, Dials: 70, Sockets: &tl, TimeWait: &tw},
		{Role: "after", Config: "tuned", Requests: 100, OK: 100, Dials: 4},
	}, Facts: []string{"before: dials were 70% of requests"}}
	idle := &scenarios.Outcome{Rows: []scenarios.Row{{Role: "before", Config: "x"}},
		Phase: &scenarios.Phase{ServerIdle: 200 * time.Millisecond, Gaps: []time.Duration{50 * time.Millisecond, 350 * time.Millisecond},
			ClientIdles: []time.Duration{0}, Cells: [][]scenarios.PhaseCell{{{Requests: 3}, {Requests: 3, Failed: 1, DeadReuses: 1, Predicted: true}}}}}
	var b strings.Builder
	for _, l := range []Scenario{{Name: "timewait_churn", Problem: "p", Fix: "f", Verdict: "ok", Outcome: churn}, {Name: "idle_mismatch", Outcome: idle}} {
		j, err := json.Marshal(l)
		if err != nil {
			t.Fatal(err)
		}
		b.Write(j)
		b.WriteString("\n")
	}
	b.WriteString("not json\n")
	r := &Run{Dir: dir, HasScenarios: true}
	r.Scenarios, r.Missing = readScenarios([]byte(b.String()), nil)
	if len(r.Scenarios) != 2 || !strings.Contains(strings.Join(r.Missing, "\n"), "only 2 scenario(s) readable") {
		t.Errorf("read %d scenarios, missing %v: want 2 and the junk after them named", len(r.Scenarios), r.Missing)
	}
	s, missing := scenariosSection(r)
	if s == nil || len(missing) != 0 {
		t.Fatalf("section %v; missing %v: want a section and nothing missing", s, missing)
	}
	if len(s.Charts) != 1 || !strings.Contains(string(s.Charts[0].SVG), "<svg") || s.Charts[0].Points != 16 {
		t.Fatalf("charts %d (points %v): want one timeline with before's client TIME_WAIT and ESTABLISHED (16 points)", len(s.Charts), s.Charts)
	}
	var all []string
	for _, tb := range s.Tables {
		all = append(all, tb.Caption)
		for _, r := range tb.Rows {
			all = append(all, strings.Join(r, "|"))
		}
	}
	text := strings.Join(all, "\n")
	for _, want := range []string{"after|tuned|100|100|none|4|—|—|—|—", "70 / 0", "1/3 (1, 0) ✗", "dials were 70%", "phase table"} {
		if !strings.Contains(text, want) {
			t.Errorf("section lacks %q:\n%s", want, text)
		}
	}
	if s, missing := scenariosSection(&Run{Dir: t.TempDir()}); s != nil || len(missing) != 1 || !strings.Contains(missing[0], "no scenarios.json") {
		t.Errorf("empty run: section %v, missing %v: want none and the file named", s, missing)
	}
}
