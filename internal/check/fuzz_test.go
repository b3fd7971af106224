package check

import (
	"net"
	"testing"
)

// FuzzAddress: any string either normalizes to a host:port that parses
// and, without --allow-remote, is on loopback, or is refused.
func FuzzAddress(f *testing.F) {
	for _, s := range []string{"127.0.0.1:80", "http://127.0.0.1:8080", "[::1]:1", "0.0.0.0:0", "localhost:0", "::1", "http://[::1]:80/"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		hp, err := Address("addr", s, false)
		if err != nil {
			return
		}
		host, _, err := net.SplitHostPort(hp)
		if err != nil {
			t.Fatalf("Address(%q) = %q, which does not split: %v", s, hp, err)
		}
		if !IsLoopback(host) {
			t.Fatalf("Address(%q) = %q accepted a non-loopback host without --allow-remote", s, hp)
		}
	})
}

// FuzzCPUList: an accepted list names only online CPUs, each once.
func FuzzCPUList(f *testing.F) {
	for _, s := range []string{"0", "0-1", "0,1", "1-0", "0,0", "99999999999", "-", ","} {
		f.Add(s)
	}
	online, _ := Online()
	f.Fuzz(func(t *testing.T, s string) {
		cpus, err := CPUList("cpus", s)
		if err != nil {
			return
		}
		seen := map[int]bool{}
		for _, c := range cpus {
			ok := false
			for _, o := range online {
				ok = ok || o == c
			}
			if !ok || seen[c] {
				t.Fatalf("CPUList(%q) = %v: cpu %d offline or repeated", s, cpus, c)
			}
			seen[c] = true
		}
	})
}
