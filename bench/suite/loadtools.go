package suite

import (
	"strconv"
	"strings"

	"github.com/poolbench/poolbench/bench/runner"
)

// ToolConns are the keep-alive connection counts where the outside load
// tools (runner.LoadTools, e.g. wrk) drive the same cells as the driver, so
// the report can check one against the other; ToolCount is their runs per
// cell. Two counts keep the check inside make bench's time.
var (
	ToolConns = []int{16, 64}
	ToolCount = 2
)

// toolRun is the `poolbench run` of the installed outside load tools beside
// the driver at ToolConns (driver cells too, so both come from one
// interleaved run), or nil when none is installed (run would print why).
func toolRun(scope, procFlags []string) []string {
	var tools []string
	for _, t := range runner.LoadTools.All() {
		if t.Available() == nil {
			tools = append(tools, t.Name())
		}
	}
	if len(tools) == 0 {
		return nil
	}
	conns := make([]string, len(ToolConns))
	for i, c := range ToolConns {
		conns[i] = strconv.Itoa(c)
	}
	args := append(append([]string{}, scope...), procFlags...)
	return append(args, "-loads", "keepalive", "-keepalive-conns", strings.Join(conns, ","),
		"-load-tool", runner.DriverTool+","+strings.Join(tools, ","))
}
