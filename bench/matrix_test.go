package bench

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"

	"golang.org/x/perf/benchfmt"
)

var valueRE = regexp.MustCompile(`^[a-z0-9._]+$`)

// TestCellNames checks every default cell against the naming rules: keys in
// Keys order, all present, values lowercase, and the name read back by
// benchfmt exactly as written (nothing mistaken for a GOMAXPROCS suffix).
func TestCellNames(t *testing.T) {
	t.Parallel()
	m, err := Spec{Variants: "all", Conns: "1,16,256"}.Parse()
	if err != nil {
		t.Fatal(err)
	}
	cells := m.Cells()
	// 2 models × 2 loads × 3 conns × (plaintext + 8 app variants) for inmem,
	// × (plaintext + all on) for tcp and fakeconn (AllOnOnly)
	if want := 2*2*3*9 + 2*2*2*3*2; len(cells) != want {
		t.Fatalf("%d cells, want %d", len(cells), want)
	}
	var in bytes.Buffer
	seen := map[string]bool{}
	for _, c := range cells {
		if seen[c.Name()] {
			t.Errorf("duplicate cell %s", c.Name())
		}
		seen[c.Name()] = true
		fmt.Fprintf(&in, "BenchmarkServer/%s-2 1 1 ns/op\n", c.Name())
	}
	r := benchfmt.NewReader(&in, "cells")
	n := 0
	for r.Scan() {
		res, ok := r.Result().(*benchfmt.Result)
		if !ok {
			t.Fatalf("benchfmt read %v, want a result", r.Result())
		}
		_, parts := res.Name.Parts()
		if len(parts) != len(Keys())+1 || string(parts[len(parts)-1]) != "-2" {
			t.Fatalf("%s: benchfmt split it into %q, want %d key=value parts and -2", res.Name, parts, len(Keys()))
		}
		for i, k := range Keys() {
			key, val, ok := strings.Cut(strings.TrimPrefix(string(parts[i]), "/"), "=")
			if !ok || key != k || !valueRE.MatchString(val) {
				t.Errorf("%s: part %d is %q, want %s=<[a-z0-9._]+>", res.Name, i, parts[i], k)
			}
		}
		n++
	}
	if n != len(cells) {
		t.Fatalf("benchfmt read %d results, want %d", n, len(cells))
	}
}

func TestSpecErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		spec Spec
		want string
	}{
		{Spec{Models: "fasthttp,nginx", Conns: "1"}, `unknown server model "nginx": want one of fasthttp, nethttp`},
		{Spec{Conns: "1,x,3"}, `-poolbench.conns "1,x,3": "x" is not a positive integer`},
		{Spec{Conns: "0"}, `-poolbench.conns "0": "0" is not a positive integer`},
		{Spec{Conns: "0", FlagPrefix: "-"}, `-conns "0": "0" is not a positive integer`},
		{Spec{Conns: "1", Variants: "pool=maybe"}, `a switch is on or off`},
		{Spec{Conns: "1", Transports: "udp"}, `unknown transport "udp": want one of inmem, tcp, fakeconn`},
		{Spec{Conns: "1", Loads: "bursty9"}, `unknown workload "bursty9": want one of keepalive, shortlived`},
		{Spec{Conns: "1", Routes: "json"}, `unknown route "json": want one of plaintext, app`},
	}
	for _, tt := range tests {
		_, err := tt.spec.Parse()
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Parse(%+v) error = %v, want one containing %q", tt.spec, err, tt.want)
		}
	}
}

// TestBadFlagsExit runs this test binary the way make bench does, with bad
// matrix flags, and checks for a one-line error and exit status 2.
func TestBadFlagsExit(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{
		{"-poolbench.models=nginx"},
		{"-poolbench.variants=pool=perhaps"},
		{"-poolbench.conns=1,,16"},
	} {
		cmd := exec.Command(os.Args[0], append([]string{"-test.run=^$", "-test.bench=Server"}, args...)...)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		err := cmd.Run()
		ee, ok := err.(*exec.ExitError)
		if !ok || ee.ExitCode() != 2 {
			t.Errorf("%v: exit %v, want status 2", args, err)
		}
		msg := strings.TrimSpace(stderr.String())
		if !strings.HasPrefix(msg, "poolbench: ") || strings.Contains(msg, "\n") {
			t.Errorf("%v: stderr %q, want one line starting with \"poolbench: \"", args, msg)
		}
	}
}

// TestRoundOrder: a round holds every cell once, the models of a cell back
// to back, the first model turning from round to round.
func TestRoundOrder(t *testing.T) {
	m, err := Spec{Conns: "1,16"}.Parse()
	if err != nil {
		t.Fatal(err)
	}
	all := m.Cells()
	for round := 1; round <= 2; round++ {
		got := m.RoundOrder(round)
		if len(got) != len(all) {
			t.Fatalf("round %d: %d cells, want %d", round, len(got), len(all))
		}
		seen := map[string]bool{}
		for i := 0; i < len(got); i += 2 {
			a, b := got[i], got[i+1]
			if a.Transport.Name != b.Transport.Name || a.withoutModel() != b.withoutModel() || a.Model.Name == b.Model.Name {
				t.Fatalf("round %d: %s then %s, want one cell's two models", round, a.Name(), b.Name())
			}
			if want := []string{"fasthttp", "nethttp"}[(round-1)%2]; a.Model.Name != want {
				t.Errorf("round %d: %s first, want %s first", round, a.Name(), want)
			}
			seen[a.Name()], seen[b.Name()] = true, true
		}
		if len(seen) != len(all) {
			t.Errorf("round %d: %d distinct cells, want %d", round, len(seen), len(all))
		}
	}
}
