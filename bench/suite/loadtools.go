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

// toolRun is the `poolbench run` of the installed outside load tools at
// ToolConns, or nil when none is installed (run would print why). The
// driver's cells there are the sweep's: running them again here would add
// samples taken minutes later to the same cells, and their spread would
// be the drift between the two steps, not the cell's.
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
		"-load-tool", strings.Join(tools, ","))
}
