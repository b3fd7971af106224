package hosts

import (
	"fmt"
	"net"
)

// CheckAddr refuses a listen or target address outside loopback
// (127.0.0.0/8, ::1, localhost) unless allowRemote is set, so nothing is
// opened to or sent over the network without the --allow-remote opt-in.
// It only parses: it never resolves a name or sends a packet. flag names
// the flag in the error, e.g. "-addr".
func CheckAddr(flag, addr string, allowRemote bool) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("%s %q: want host:port, e.g. 127.0.0.1:8080", flag, addr)
	}
	if allowRemote || host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	what := "is not on loopback"
	if host == "" || (net.ParseIP(host) != nil && net.ParseIP(host).IsUnspecified()) {
		what = "listens on every interface"
	}
	return fmt.Errorf("%s %q %s: want 127.0.0.0/8 or [::1], or add --allow-remote to open it to the network", flag, addr, what)
}
