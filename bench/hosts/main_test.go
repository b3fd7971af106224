package hosts

import (
	"os"
	"testing"

	"github.com/poolbench/poolbench/internal/lock"
)

// TestMain gives the tests, and the poolbench runs they start, their own
// CPU lock folder: they never contend with a real run on the machine or with
// another package's tests.
func TestMain(m *testing.M) { os.Exit(lock.RunIsolated(m)) }
