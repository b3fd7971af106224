package wrk

import (
	"os"
	"os/exec"
	"testing"
)

// TestStartPinnedKeepsThreads starts children pinned and checks that every
// thread of this process before is still alive after: a pinning thread that
// exits would fire the Pdeathsig of children other code started from it
// (bench/runner's servers), killing them.
func TestStartPinnedKeepsThreads(t *testing.T) {
	before := threads(t)
	for range 20 {
		cmd := exec.Command("true")
		if err := startPinned(cmd, []int{0}); err != nil {
			t.Fatal(err)
		}
		if err := cmd.Wait(); err != nil {
			t.Fatal(err)
		}
	}
	after := threads(t)
	for tid := range before {
		if !after[tid] {
			t.Errorf("thread %s exited while starting pinned children", tid)
		}
	}
}

func threads(t *testing.T) map[string]bool {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/task")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	for _, e := range ents {
		out[e.Name()] = true
	}
	return out
}
