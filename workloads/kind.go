package workloads

import (
	"flag"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/poolbench/poolbench/registry"
)

// Kind is a registered workload that describes itself, as k6's executors
// do: its settings as flags with their own validation, its sweep in the
// process matrix, its measured window, what it measures and its extra
// `poolbench load` arguments. The layers loop over Kinds; none switches on a
// workload's name. Kinds are pointers: Flags binds their fields.
type Kind interface {
	Workload
	// Traits say how the layers treat the workload.
	Traits() Traits
	// Flags registers the workload's settings on fs (poolbench load and run).
	Flags(fs *flag.FlagSet)
	// SweepFlags registers its axis in the process matrix on fs (poolbench run).
	SweepFlags(fs *flag.FlagSet)
	// Validate checks settings and sweep against their bounds; the error
	// is one line naming the flag, the value and what is allowed.
	Validate() error
	// Points expands the sweep, one configured workload per cell; call it
	// after Validate.
	Points() []Point
	// Args renders the settings as `poolbench load` flags.
	Args() []string
	// Window is roughly how long the measured window lasts when
	// closed-loop windows last d.
	Window(d time.Duration) time.Duration
}

// Traits are what a workload tells the layers about itself.
type Traits struct {
	// Doc says in one line what the workload does.
	Doc string
	// Closed marks a closed loop: it sends back to back until
	// Plan.Requests or Plan.Duration ends it, so it warms up first and can
	// run in-process for b.N requests. Open loops pace themselves.
	Closed bool
	// PerConn marks a workload whose iterations are connections held, not
	// requests: the server's memory per connection is measured, after a GC.
	PerConn bool
	// Records marks a workload that writes raw results to Plan.Record
	// (vegeta's format).
	Records bool
	// FixedServer marks a workload whose subject is the client: its cells
	// run against the first selected server model only, all switches on.
	FixedServer bool
	// RequestsPerConn is how many requests a closed loop sends on one
	// connection before the client closes it; 0 keeps connections open for
	// the whole window (keep-alive). Outside load tools and the fakeconn
	// transport choose their shape by it.
	RequestsPerConn int
	// Units are the extra units its result lines carry, beyond the
	// per-request or per-connection set, e.g. "connects/s".
	Units []string
}

// Point is one cell of a workload's sweep.
type Point struct {
	// Load is the workload configured for the cell.
	Load Kind
	// Conns is the cell's connection count; 0 means conns=na.
	Conns int
	// Keys are the cell values the point sets beyond load and conns, e.g.
	// {"gap": "500ms"} or {"client": "nethttp_tuned"}.
	Keys map[string]string
	// Mem also runs the cell with reduced server memory on models that
	// support it (mem=reduce).
	Mem bool
}

// Def is one row of the workload registry: it returns the workload with
// its default settings and sweep, fresh for every use (flags bind to it).
type Def func() Kind

// Registry is the explicit table of workloads, in the order cells run.
var Registry = registry.New("workload", func(d Def) string { return d().Name() },
	func() Kind {
		return &Keepalive{ClosedLoop{ConnSweep{Flag: "keepalive-conns", List: "1,16,64,256,1024"}}}
	},
	func() Kind { return &Shortlived{ClosedLoop{ConnSweep{Flag: "shortlived-conns", List: "16,256"}}} },
	func() Kind { b := DefaultBursty; return &b },
	func() Kind { i := DefaultIdle; return &i },
)

// Kinds returns every registered workload with fresh default settings.
func Kinds() []Kind {
	var out []Kind
	for _, d := range Registry.All() {
		out = append(out, d())
	}
	return out
}

// Lookup returns the workload registered under name, with its defaults.
func Lookup(name string) (Kind, error) {
	d, err := Registry.Lookup(name)
	if err != nil {
		return nil, err
	}
	return d(), nil
}

// MaxConns bounds every connection count: beyond it the machine runs out of
// ports or file descriptors before the server shows anything.
const MaxConns = 100_000

// ParseConns parses a comma-separated list of connection counts, each from
// 1 to MaxConns; flag names the flag in the error.
func ParseConns(flag, list string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(list, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 || n > MaxConns {
			return nil, fmt.Errorf("%s %q: %q is not a positive integer up to %d: want connection counts ≥ 1, e.g. 1,16,256", flag, list, strings.TrimSpace(f), MaxConns)
		}
		out = append(out, n)
	}
	return out, nil
}

// positive checks a duration setting.
func positive(flag string, d time.Duration) error {
	if d <= 0 {
		return fmt.Errorf("-%s %v: want a duration > 0, e.g. 1s", flag, d)
	}
	return nil
}

// ConnSweep is a workload's axis in the process matrix when that axis is
// the connection count: flag -<Flag>, a list such as 1,16,256.
type ConnSweep struct {
	// Flag is the flag's name, e.g. "keepalive-conns".
	Flag string
	// List is the sweep as text.
	List  string
	conns []int
}

// SweepFlags registers the sweep as flag -<Flag>.
func (s *ConnSweep) SweepFlags(fs *flag.FlagSet) {
	fs.StringVar(&s.List, s.Flag, s.List, strings.TrimSuffix(s.Flag, "-conns")+": connection counts to sweep, e.g. 1,16,256")
}

// Validate parses the sweep.
func (s *ConnSweep) Validate() (err error) {
	s.conns, err = ParseConns("-"+s.Flag, s.List)
	return err
}

// Points is one cell per connection count, each running k.
func (s *ConnSweep) Points(k Kind) []Point {
	var out []Point
	for _, c := range s.conns {
		out = append(out, Point{Load: k, Conns: c})
	}
	return out
}

// ClosedLoop is what a closed-loop workload without settings of its own
// shares: its sweep over connection counts, no extra load arguments, and
// the closed-loop window. Embed it and add Name, Run, Traits and Points.
type ClosedLoop struct{ ConnSweep }

// Flags implements Kind: no settings.
func (*ClosedLoop) Flags(*flag.FlagSet) {}

// Args implements Kind: no settings.
func (*ClosedLoop) Args() []string { return nil }

// Window implements Kind: the closed-loop window.
func (*ClosedLoop) Window(d time.Duration) time.Duration { return d }
