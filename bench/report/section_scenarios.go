package report

import (
	"fmt"

	"github.com/poolbench/poolbench/workloads/observe"
	"github.com/poolbench/poolbench/workloads/scenarios"
)

// clientFailures: each client pool failure and its fix, from scenarios.json
// (poolbench scenarios -json).
func clientFailures(b *builder) {
	s, missing := scenariosSection(b.r)
	b.rep.Missing = append(b.rep.Missing, missing...)
	if s != nil {
		b.add(s)
	}
}

// scenariosSection builds the client pool failures section from the run's
// scenarios.json: per scenario its before/after table with the observer's
// columns, what was measured, the phase table where a scenario has one, and
// a socket-state timeline chart (TIME_WAIT, ESTABLISHED, CLOSE_WAIT per side
// over time) for each scenario whose rows were sampled. missing says what
// could not be shown; Read already said what scenarios.json lacks.
func scenariosSection(r *Run) (s *Section, missing []string) {
	s = &Section{ID: "scenarios", Title: "Client pool failures: before and after",
		Intro: "Each scenario runs a failing config and its fix against a real server on loopback (poolbench scenarios); " +
			"the observer counts reuse per request, the server's concurrent handlers and duplicate requests, and the kernel's socket states on each side of the server port. " +
			"TIME_WAIT sits with the side that closed first."}
	if !r.HasScenarios {
		return nil, []string{fmt.Sprintf("%s: no scenarios.json in the run (poolbench scenarios -json > %s/scenarios.json)", s.Title, r.Dir)}
	}
	for i := range r.Scenarios {
		if r.Scenarios[i].Outcome != nil {
			missing = append(missing, addScenario(s, &r.Scenarios[i])...)
		}
	}
	if len(s.Tables) == 0 {
		return nil, missing
	}
	return s, missing
}

// addScenario adds one scenario's tables and chart to s.
func addScenario(s *Section, l *Scenario) (missing []string) {
	o := l.Outcome
	t := Table{Caption: fmt.Sprintf("%s: %s — fix: %s — %s", l.Name, l.Problem, l.Fix, l.Verdict), Header: scenarios.TableHeader}
	for i := range o.Rows {
		t.Rows = append(t.Rows, o.Rows[i].Cells())
	}
	s.Tables = append(s.Tables, t)
	if o.Phase != nil {
		header, rows := o.Phase.Rows()
		s.Tables = append(s.Tables, Table{Caption: l.Name + " phase table: " + o.Phase.PhaseCaption(), Header: header, Rows: rows})
	}
	if len(o.Facts) > 0 {
		ft := Table{Caption: l.Name + ": measured", Header: []string{"observation"}}
		for _, f := range o.Facts {
			ft.Rows = append(ft.Rows, []string{f})
		}
		s.Tables = append(s.Tables, ft)
	}
	series := socketSeries(o)
	if len(series) == 0 {
		return nil
	}
	c, err := lineChart("scenario_"+l.Name+"_sockets", l.Name+": socket states over time", "ms since the row began", "sockets", false, series)
	if err != nil {
		return []string{fmt.Sprintf("chart %s: %v", l.Name, err)}
	}
	if c.Points > 0 {
		s.Charts = append(s.Charts, c)
	}
	return nil
}

// socketStates are the states a timeline chart may draw, per side.
var socketStates = []struct {
	name string
	get  func(observe.Snapshot) int
}{
	{"client TIME_WAIT", func(s observe.Snapshot) int { return s.Client.TimeWait }},
	{"server TIME_WAIT", func(s observe.Snapshot) int { return s.Server.TimeWait }},
	{"client ESTABLISHED", func(s observe.Snapshot) int { return s.Client.Established }},
	{"client CLOSE_WAIT", func(s observe.Snapshot) int { return s.Client.CloseWait }},
	{"server CLOSE_WAIT", func(s observe.Snapshot) int { return s.Server.CloseWait }},
	{"client FIN_WAIT2", func(s observe.Snapshot) int { return s.Client.FinWait2 }},
}

// socketSeries is one line per row (before, after, …) and state that was
// ever non-zero, for rows sampled often enough to draw (≥ 5 samples).
func socketSeries(o *scenarios.Outcome) []Series {
	var out []Series
	seen := map[string]int{}
	for _, r := range o.Rows {
		if r.Sockets == nil || len(r.Sockets.Samples) < 5 {
			continue
		}
		label := r.Role
		if seen[r.Role]++; seen[r.Role] > 1 {
			label = fmt.Sprintf("%s %d", r.Role, seen[r.Role])
		}
		for _, st := range socketStates {
			if r.Sockets.Peak(st.get) == 0 {
				continue
			}
			s := Series{Name: label + " " + st.name}
			for _, p := range r.Sockets.Samples {
				s.X = append(s.X, float64(p.At.Milliseconds()))
				s.Y = append(s.Y, float64(st.get(p)))
			}
			out = append(out, s)
		}
	}
	return out
}
