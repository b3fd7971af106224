package netnstest

import (
	"context"
	"os/exec"
	"strings"
	"testing"
)

// TestLab checks the lab's shape: every host answers through both of its
// prefixes from inside its own namespace, load hosts reach the server
// across the bridge, and the root namespace holds no lab address or route.
func TestLab(t *testing.T) {
	l := New(t, 2)
	ctx := context.Background()
	for _, h := range l.All() {
		for _, via := range []struct {
			name string
			out  func() ([]byte, error)
		}{
			{"ssh", func() ([]byte, error) {
				return h.SSH.Output(ctx, []string{"ip", "-o", "-4", "addr", "show", "eth0"}, nil)
			}},
			{"netns", func() ([]byte, error) {
				return h.Netns.Output(ctx, []string{"ip", "-o", "-4", "addr", "show", "eth0"}, nil)
			}},
		} {
			out, err := via.out()
			if err != nil || !strings.Contains(string(out), " "+h.Addr+"/24 ") {
				t.Errorf("%s via %s: %q, %v; want eth0 with %s", h.Name, via.name, out, err, h.Addr)
			}
		}
	}
	for _, lg := range l.Loads {
		if out, err := lg.Netns.Output(ctx, []string{"nc", "-z", "-w", "5", l.Server.Addr, "22"}, nil); err != nil {
			t.Errorf("%s cannot reach the server's sshd at %s across the bridge: %v %s", lg.Name, l.Server.Addr, err, out)
		}
	}
	addrs, _ := exec.Command("ip", "-o", "addr").Output()
	routes, _ := exec.Command("ip", "route", "show", Subnet+".0/24").Output()
	if strings.Contains(string(addrs), Subnet+".") || len(strings.TrimSpace(string(routes))) > 0 {
		t.Errorf("the root namespace holds the lab's range: addrs %q, routes %q", addrs, routes)
	}
}

// TestCleanStale checks namespaces left by a killed test are removed.
func TestCleanStale(t *testing.T) {
	l := New(t, 0) // skips where namespaces cannot be made
	_ = l
	stale := NamePrefix + "999999999-srv" // no such pid
	if out, err := exec.Command("ip", "netns", "add", stale).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add: %v: %s", err, out)
	}
	Clean()
	list, _ := exec.Command("ip", "netns", "list").Output()
	if strings.Contains(string(list), stale) {
		exec.Command("ip", "netns", "del", stale).Run() //nolint:errcheck
		t.Fatalf("stale namespace %s survived Clean", stale)
	}
	if !strings.Contains(string(list), l.Server.NS) {
		t.Errorf("Clean removed the live lab's namespace %s", l.Server.NS)
	}
}
