package runner

import "strings"

// roundOrder is the order the cells of round run (1-based) run in: the
// cells that differ only by server model run back to back, so a ratio of
// models pairs samples taken moments apart (the CPUs' speed drifts over a
// round), and the models' order within each group turns every round, so
// neither model always runs first. Groups keep the order of their first
// cell.
func roundOrder(cells []Cell, run int) []Cell {
	var groups [][]Cell
	at := map[string]int{}
	for _, c := range cells {
		k := withoutModel(c)
		i, ok := at[k]
		if !ok {
			i = len(groups)
			at[k] = i
			groups = append(groups, nil)
		}
		groups[i] = append(groups[i], c)
	}
	out := make([]Cell, 0, len(cells))
	for _, g := range groups {
		shift := (run - 1) % len(g)
		out = append(out, g[shift:]...)
		out = append(out, g[:shift]...)
	}
	return out
}

// withoutModel is the cell's name with its model left out.
func withoutModel(c Cell) string {
	var parts []string
	for _, kv := range c.Key() {
		if kv.Key != "model" {
			parts = append(parts, kv.Key+"="+kv.Value)
		}
	}
	return strings.Join(parts, "/")
}
