package scenarios

import (
	"context"
	"errors"
	"os"
	"testing"

	"github.com/poolbench/poolbench/workloads/observe"
)

// TestMain lets a namespaced scenario re-run this binary as its child,
// and runs the tests in a fresh network namespace where allowed, so the
// host's socket table (other programs' TIME_WAIT) does not leak in.
func TestMain(m *testing.M) {
	RunChild()
	if code, ok := observe.Isolate(); ok {
		os.Exit(code)
	}
	os.Exit(m.Run())
}

// TestScenarios runs every scenario: the failure must happen before and be
// gone after (Check), and the doctor must flag the before config and clear
// the after config by the same rules.
func TestScenarios(t *testing.T) {
	for _, s := range All {
		t.Run(s.Name(), func(t *testing.T) {
			if r, ok := s.(RequestCtxEscape); ok && raceEnabled {
				r.SkipBefore = true
				s = r
			}
			o, err := s.Run(context.Background())
			if errors.Is(err, ErrNotAllowed) {
				t.Skipf("%s: %v", s.Name(), err)
			}
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%s\n%s", s.Problem(), o.Table())
			for _, f := range o.Facts {
				t.Log(f)
			}
			if err := s.Check(o); err != nil {
				t.Fatal(err)
			}
			if s.Name() == "requestctx_escape" {
				return // code, not configuration: nothing for the doctor
			}
			b, a := o.Row("before"), o.Row("after")
			if !Exposed(Doctor(b.Client), s.Name()) {
				t.Errorf("doctor does not flag the before config %+v for %s: %v", b.Client, s.Name(), Doctor(b.Client))
			}
			if Exposed(Doctor(a.Client), s.Name()) {
				t.Errorf("doctor on the after config %+v: exposed to %s: %v", a.Client, s.Name(), Doctor(a.Client))
			}
		})
	}
}

func TestLookup(t *testing.T) {
	t.Parallel()
	if _, err := Lookup("no_free_conns"); err != nil {
		t.Fatal(err)
	}
	if _, err := Lookup("nope"); err == nil {
		t.Error("Lookup(nope) succeeded")
	}
}
