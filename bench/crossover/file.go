package crossover

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
)

// FileName is the searches' file in a run folder, written by
// `poolbench crossover -out <run>` and drawn by the report.
const FileName = "crossover.json"

// Search is one search as crossover.json keeps it: what was searched and
// its Result (the curve with its intervals and the crossing).
type Search struct {
	Load      string  `json:"load"`
	Metric    string  `json:"metric"`
	Threshold float64 `json:"threshold"`
	// ServerGOMAXPROCS is the server's GOMAXPROCS ("" for the default).
	ServerGOMAXPROCS string `json:"server_gomaxprocs,omitempty"`
	Result
}

// WriteFile writes the searches to dir/crossover.json and returns its path.
// Searches already in the file for other loads, metrics, thresholds or
// server GOMAXPROCS are kept (so keepalive's and shortlived's searches
// share a run); one for the same is replaced.
func WriteFile(dir string, searches []Search) (string, error) {
	old, _, err := ReadFile(dir)
	if err != nil {
		return "", err
	}
	same := func(a, b Search) bool {
		return a.Load == b.Load && a.Metric == b.Metric && a.Threshold == b.Threshold && a.ServerGOMAXPROCS == b.ServerGOMAXPROCS
	}
	var all []Search
	for _, o := range old {
		if !slices.ContainsFunc(searches, func(n Search) bool { return same(o, n) }) {
			all = append(all, o)
		}
	}
	b, err := json.MarshalIndent(append(all, searches...), "", "  ")
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, FileName)
	return path, os.WriteFile(path, append(b, '\n'), 0o644)
}

// ReadFile reads dir/crossover.json; ok is false when there is none.
func ReadFile(dir string) (searches []Search, ok bool, err error) {
	b, err := os.ReadFile(filepath.Join(dir, FileName))
	if os.IsNotExist(err) {
		return nil, false, nil
	}
	if err != nil {
		return nil, true, err
	}
	if err := json.Unmarshal(b, &searches); err != nil {
		return nil, true, fmt.Errorf("%s: %w", filepath.Join(dir, FileName), err)
	}
	return searches, true, nil
}

// pointJSON is a Point whose interval ends may be null: an interval with
// too few samples for its confidence is unbounded (±Inf), which JSON
// numbers cannot hold.
type pointJSON struct {
	plainPoint
	Lo *float64 `json:"lo"`
	Hi *float64 `json:"hi"`
}

type plainPoint Point

// finite is v, or nil where v is infinite or NaN.
func finite(v float64) *float64 {
	if math.IsInf(v, 0) || math.IsNaN(v) {
		return nil
	}
	return &v
}

// MarshalJSON writes an unbounded interval end as null.
func (p Point) MarshalJSON() ([]byte, error) {
	return json.Marshal(pointJSON{plainPoint: plainPoint(p), Lo: finite(p.Lo), Hi: finite(p.Hi)})
}

// UnmarshalJSON reads a null interval end as unbounded (-Inf, +Inf).
func (p *Point) UnmarshalJSON(b []byte) error {
	var j pointJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	*p = Point(j.plainPoint)
	p.Lo, p.Hi = math.Inf(-1), math.Inf(1)
	if j.Lo != nil {
		p.Lo = *j.Lo
	}
	if j.Hi != nil {
		p.Hi = *j.Hi
	}
	return nil
}
