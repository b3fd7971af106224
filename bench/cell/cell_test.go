package cell

import (
	"slices"
	"testing"
)

func TestBuildFillsNAAndRoundTrips(t *testing.T) {
	t.Parallel()
	keys := []string{"model", "conns", "gap", "pool"}
	n := Build(keys, map[string]string{"model": "fasthttp", "pool": "on", "conns": "16"})
	if got, want := n.String(), "model=fasthttp/conns=16/gap=na/pool=on"; got != want {
		t.Errorf("Build = %q, want %q", got, want)
	}
	back, err := Parse(n.String())
	if err != nil || !slices.Equal(back, n) {
		t.Errorf("Parse(%q) = %v, %v; want %v", n, back, err, n)
	}
	if n.Get("gap") != NA || n.Get("nope") != "" || !slices.Equal(n.Keys(), keys) {
		t.Errorf("Get/Keys on %v: gap %q, nope %q, keys %v", n, n.Get("gap"), n.Get("nope"), n.Keys())
	}
	if _, err := Parse("model=fasthttp/oops"); err == nil {
		t.Error("Parse of a segment without '=' succeeded")
	}
}

func TestBuildRefusesUndeclaredKeys(t *testing.T) {
	t.Parallel()
	defer func() {
		if recover() == nil {
			t.Error("Build with a key outside keys did not panic")
		}
	}()
	Build([]string{"model"}, map[string]string{"model": "x", "colour": "red"})
}
