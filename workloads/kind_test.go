package workloads_test

import (
	"flag"
	"strings"
	"testing"

	"github.com/poolbench/poolbench/workloads"
)

// TestKindsDescribeThemselves checks every registered workload: its name
// matches its row, its defaults validate and expand to cells, and its flags
// do not collide with another workload's.
func TestKindsDescribeThemselves(t *testing.T) {
	t.Parallel()
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	for _, d := range workloads.Registry.All() {
		k := d()
		if k2 := d(); k2 == k {
			t.Errorf("%s: the row returns the same workload twice, want a fresh one (flags bind to it)", k.Name())
		}
		k.Flags(fs) // panics on a flag defined twice
		k.SweepFlags(fs)
		if err := k.Validate(); err != nil {
			t.Errorf("%s: defaults do not validate: %v", k.Name(), err)
			continue
		}
		if len(k.Points()) == 0 {
			t.Errorf("%s: default sweep has no cell", k.Name())
		}
	}
}

// TestValidateNamesTheFlag sets one bad value per flag and checks the
// error names that flag and the value.
func TestValidateNamesTheFlag(t *testing.T) {
	t.Parallel()
	tests := []struct {
		load string
		args []string
		want string
	}{
		{"keepalive", []string{"-keepalive-conns", "0"}, `-keepalive-conns "0": "0" is not a positive integer`},
		{"keepalive", []string{"-keepalive-conns", "1,many"}, `-keepalive-conns "1,many": "many"`},
		{"shortlived", []string{"-shortlived-conns", "200000"}, `-shortlived-conns "200000"`},
		{"idle", []string{"-hold", "0s"}, `-hold 0s: want a duration > 0`},
		{"idle", []string{"-idle-conns", "-5"}, `-idle-conns "-5"`},
		{"bursty", []string{"-rate", "0"}, `-rate 0: want requests per second ≥ 1`},
		{"bursty", []string{"-rate", "1000000"}, `-rate 1000000: want requests per second ≥ 1 and ≤ 100000`},
		{"bursty", []string{"-rate", "1", "-on", "100ms"}, `a burst holds no request`},
		{"bursty", []string{"-on", "-1s"}, `-on -1s`},
		{"bursty", []string{"-bursts", "0"}, `-bursts 0`},
		{"bursty", []string{"-client-idle", "0s"}, `-client-idle 0s`},
		{"bursty", []string{"-gaps", "soon"}, `-gaps "soon": "soon" is not a duration`},
	}
	for _, tt := range tests {
		k, err := workloads.Lookup(tt.load)
		if err != nil {
			t.Fatal(err)
		}
		fs := flag.NewFlagSet("test", flag.ContinueOnError)
		k.Flags(fs)
		k.SweepFlags(fs)
		if err := fs.Parse(tt.args); err != nil {
			t.Fatal(err)
		}
		err = k.Validate()
		if err == nil || !strings.Contains(err.Error(), tt.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s %v: Validate() = %v, want one line containing %q", tt.load, tt.args, err, tt.want)
		}
	}
	if _, err := workloads.Lookup("bursty2"); err == nil || err.Error() != `unknown workload "bursty2": want one of keepalive, shortlived, bursty, idle` {
		t.Errorf("Lookup(bursty2) error = %v, want the registry's line", err)
	}
}
