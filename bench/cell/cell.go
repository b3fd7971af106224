// Package cell names matrix cells the one way both layers (in-process and
// process) write them: key=value segments in the layer's fixed key order,
// every key present, "na" where a key does not apply.
package cell

import (
	"fmt"
	"strings"
)

// NA is the value of a key that does not apply to a cell.
const NA = "na"

// KV is one key=value segment.
type KV struct{ Key, Value string }

// Name is a cell's name: its segments in key order.
type Name []KV

// String renders the name as a sub-benchmark path: "model=fasthttp/load=…".
func (n Name) String() string {
	var b strings.Builder
	for i, kv := range n {
		if i > 0 {
			b.WriteByte('/')
		}
		b.WriteString(kv.Key)
		b.WriteByte('=')
		b.WriteString(kv.Value)
	}
	return b.String()
}

// Get returns key's value, or "" if n has no such key.
func (n Name) Get(key string) string {
	for _, kv := range n {
		if kv.Key == key {
			return kv.Value
		}
	}
	return ""
}

// Keys returns the keys of n, in order.
func (n Name) Keys() []string {
	out := make([]string, len(n))
	for i, kv := range n {
		out[i] = kv.Key
	}
	return out
}

// Parse reads a path written by String.
func Parse(path string) (Name, error) {
	var n Name
	for _, seg := range strings.Split(path, "/") {
		k, v, ok := strings.Cut(seg, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("cell %q: segment %q is not key=value", path, seg)
		}
		n = append(n, KV{k, v})
	}
	return n, nil
}

// Build lays values out in keys' order: keys absent from values get NA. It
// panics if values holds a key not in keys (a layer naming a key it did not
// declare is a programming error).
func Build(keys []string, values map[string]string) Name {
	n := make(Name, len(keys))
	used := 0
	for i, k := range keys {
		v, ok := values[k]
		if ok {
			used++
		} else {
			v = NA
		}
		n[i] = KV{k, v}
	}
	if used != len(values) {
		panic(fmt.Sprintf("cell: values %v hold a key outside %v", values, keys))
	}
	return n
}
