package report

import (
	"fmt"
	"strconv"
	"strings"
)

// scenarios: each client pool failure and its fix, from scenarios.json
// (poolbench scenarios -json), one table per scenario.
func scenarios(b *builder) {
	s := &Section{ID: "scenarios", Title: "Client pool failures: before and after",
		Intro: "Each scenario runs a failing config and its fix against a real server on loopback (poolbench scenarios)."}
	if len(b.r.Scenarios) == 0 {
		b.missing("%s: no scenarios.json in the run (poolbench scenarios -json > %s/scenarios.json)", s.Title, b.r.Dir)
		return
	}
	for _, sc := range b.r.Scenarios {
		t := Table{Caption: sc.Name + ": " + sc.Problem + " — " + sc.Verdict, Header: []string{"", "config", "requests", "ok", "errors", "dials", "TIME_WAIT", "p99"}}
		for _, r := range sc.Outcome.Rows {
			errs := make([]string, 0, len(r.Errors))
			for _, k := range sortedKeys(r.Errors) {
				errs = append(errs, fmt.Sprintf("%s=%d", k, r.Errors[k]))
			}
			if len(errs) == 0 {
				errs = []string{"none"}
			}
			t.Rows = append(t.Rows, []string{r.Role, r.Config, strconv.Itoa(r.Requests), strconv.Itoa(r.OK), strings.Join(errs, " "),
				strconv.FormatInt(r.Dials, 10), strconv.Itoa(r.TimeWait), fmtNs(float64(r.P99))})
		}
		s.Tables = append(s.Tables, t)
	}
	b.add(s)
}
