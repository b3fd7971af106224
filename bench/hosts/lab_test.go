package hosts_test

import (
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/poolbench/poolbench/bench/hosts"
	"github.com/poolbench/poolbench/bench/hosts/netnstest"
)

// eachVia makes the namespace lab with two load hosts, builds poolbench,
// and runs f once through ssh prefixes and once through `ip netns exec`
// prefixes, pick choosing a lab host's prefix.
func eachVia(t *testing.T, f func(t *testing.T, lab *netnstest.Lab, bin string, pick func(*netnstest.Host) hosts.Host)) {
	lab := netnstest.New(t, 2)
	bin := filepath.Join(t.TempDir(), "poolbench")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/poolbench/poolbench/cmd/poolbench").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	for _, via := range []string{"ssh", "netns"} {
		t.Run("via="+via, func(t *testing.T) {
			f(t, lab, bin, func(h *netnstest.Host) hosts.Host {
				if via == "ssh" {
					return h.SSH
				}
				return h.Netns
			})
		})
	}
}
