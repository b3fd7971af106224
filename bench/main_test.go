package bench

import (
	"flag"
	"fmt"
	"os"
	"testing"

	"github.com/poolbench/poolbench/servers/app"
)

// The matrix flags; make bench passes them from its variables of the same
// names. They select cells; go test's -bench filters them further.
var (
	flagTransports = flag.String("poolbench.transports", "all", "transports to run: inmem, tcp, fakeconn (comma-separated) or all")
	flagModels     = flag.String("poolbench.models", "all", "server models to run: fasthttp, nethttp (comma-separated) or all")
	flagRoutes     = flag.String("poolbench.routes", "all", "routes to run: plaintext, app (comma-separated) or all")
	flagLoads      = flag.String("poolbench.loads", "all", "loads to run: keepalive, shortlived (comma-separated) or all")
	flagConns      = flag.String("poolbench.conns", "1,16,256", "connection counts to sweep, e.g. 1,16,256")
	flagPlanted    = flag.Int("poolbench.planted-work", 0, "run this many steps of app.Spin in every app request: a planted slowdown of fixed work for poolbench calibrate (never on by default)")
	flagVariants   = flag.String("poolbench.variants", "default", "app variants: default (all on, each switch off alone, all off), all (8), or a list such as 'pool=on/conv=off/reuse=on;all-off'")
)

// matrix is the parsed matrix, set by TestMain.
var matrix Matrix

func TestMain(m *testing.M) {
	flag.Parse()
	app.PlantedWork = *flagPlanted
	var err error
	matrix, err = Spec{
		Transports: *flagTransports,
		Models:     *flagModels,
		Routes:     *flagRoutes,
		Loads:      *flagLoads,
		Conns:      *flagConns,
		Variants:   *flagVariants,
	}.Parse()
	if err != nil {
		fmt.Fprintln(os.Stderr, "poolbench:", err)
		os.Exit(2)
	}
	os.Exit(m.Run())
}
