package cell

// Without is n's path with key's segment left out: what cells that differ
// only by key (e.g. the server model) have in common.
func (n Name) Without(key string) string {
	var kept Name
	for _, kv := range n {
		if kv.Key != key {
			kept = append(kept, kv)
		}
	}
	return kept.String()
}

// RoundOrder is the order round (1-based) of an interleaved run takes
// items in: items with the same group run back to back, so a ratio within a
// group pairs samples taken moments apart, and the order within each group
// turns one step every round, so no item always runs first. Groups keep the
// order of their first item.
func RoundOrder[T any](items []T, group func(T) string, round int) []T {
	var groups [][]T
	at := map[string]int{}
	for _, it := range items {
		k := group(it)
		i, ok := at[k]
		if !ok {
			i = len(groups)
			at[k] = i
			groups = append(groups, nil)
		}
		groups[i] = append(groups[i], it)
	}
	out := make([]T, 0, len(items))
	for _, g := range groups {
		shift := (round - 1) % len(g)
		out = append(append(out, g[shift:]...), g[:shift]...)
	}
	return out
}
