//go:build !race

package sysstat

import (
	"os"
	"testing"
)

// TestReadProcAllocatesLittle guards the control endpoint's windows: a
// server reads its own counters at both ends of a window, and what the
// reading allocates lands in the window's allocations per request.
func TestReadProcAllocatesLittle(t *testing.T) {
	tasks, err := os.ReadDir("/proc/self/task")
	if err != nil {
		t.Fatal(err)
	}
	got := testing.AllocsPerRun(20, func() {
		if _, err := ReadProc("self"); err != nil {
			t.Fatal(err)
		}
	})
	// The listing of threads costs a few per thread; the files' contents
	// nothing beyond one buffer.
	if limit := float64(20 + 8*len(tasks)); got > limit {
		t.Errorf("ReadProc allocates %.0f objects with %d threads, want ≤ %.0f", got, len(tasks), limit)
	}
	t.Logf("%.0f allocations, %d threads", got, len(tasks))
}
