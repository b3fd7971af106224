package runner

import (
	"flag"
	"os/exec"
	"strings"
	"testing"
)

// TestWrkCells runs a keep-alive cell with the driver and with wrk, when wrk
// is installed: both lines are written, the wrk one as client=wrk with the
// driver's units but p999-ns, and wrk's own costs as load-*.
func TestWrkCells(t *testing.T) {
	if _, err := exec.LookPath("wrk"); err != nil {
		t.Skip("wrk is not installed; TestWrkSkippedWithoutWrk covers this machine")
	}
	cells := wrkSpecCells(t)
	if len(cells) != 2 || cells[1].Tool == nil || !strings.Contains(cells[1].Name(), "/client=wrk/") || !strings.Contains(cells[0].Name(), "/client=driver/") {
		t.Fatalf("cells %v, want the driver's keep-alive cell and a client=wrk one", cells)
	}
	got := runCells(t, cells)
	for _, c := range cells {
		res := got[c.Name()]
		if res == nil {
			t.Fatalf("no line for %s", c.Name())
		}
		for _, u := range []string{"req/s", "p99-ns", "cpu-ns/op", "syscr/op", "load-user-ns/op", "load-syscw/op", "listen-overflows"} {
			if _, ok := metric(res, u); !ok {
				t.Errorf("%s: no %s", c.Name(), u)
			}
		}
		if _, ok := metric(res, "p999-ns"); ok == (c.Tool != nil) {
			t.Errorf("%s: p999-ns present = %v, want it only on driver lines (wrk reports up to p99)", c.Name(), ok)
		}
		if v, _ := res.Value("load-syscw/op"); v < 0.9 {
			t.Errorf("%s: load-syscw/op = %v, want ≥ 1 write per keep-alive request", c.Name(), v)
		}
	}
}

// wrkSpecCells expands `-models fasthttp -loads keepalive -keepalive-conns 4
// -load-tool driver,wrk` as poolbench run does.
func wrkSpecCells(t *testing.T) []Cell {
	t.Helper()
	spec := DefaultMatrix()
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	spec.Flags(fs)
	if err := fs.Parse([]string{"-models", "fasthttp", "-loads", "keepalive", "-keepalive-conns", "4", "-load-tool", "driver,wrk"}); err != nil {
		t.Fatal(err)
	}
	cells, err := spec.Cells()
	if err != nil {
		t.Fatal(err)
	}
	return cells
}

// TestWrkSkippedWithoutWrk hides wrk from PATH: -load-tool driver,wrk then
// runs the driver's cells alone and says in one line why client=wrk cells
// are skipped. A load tool that does not exist is a usage error.
func TestWrkSkippedWithoutWrk(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	cells := wrkSpecCells(t)
	if len(cells) != 1 || cells[0].Tool != nil {
		t.Errorf("cells %v, want the driver's cell alone", cells)
	}
	lines := SkippedTools("driver,wrk")
	if len(lines) != 1 || !strings.HasPrefix(lines[0], "client=wrk cells skipped: wrk is not installed") {
		t.Errorf("SkippedTools = %q, want one line saying client=wrk cells are skipped because wrk is not installed", lines)
	}
	if _, _, err := ParseLoadTools("driver,ab"); err == nil || !strings.Contains(err.Error(), `-load-tool "driver,ab": "ab" is not a load tool`) {
		t.Errorf("ParseLoadTools(driver,ab) = %v, want an error naming the flag and the value", err)
	}
}
