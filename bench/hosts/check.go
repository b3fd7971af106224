package hosts

import (
	"strings"

	"github.com/poolbench/poolbench/internal/check"
)

// CheckAddr refuses a listen or target address outside loopback
// (127.0.0.0/8, ::1, localhost) unless allowRemote is set, so nothing is
// opened to or sent over the network without the --allow-remote opt-in.
// It is check.Address (one implementation for every command): it only
// parses, never resolves a name or sends a packet. flag names the flag in
// the error, e.g. "-addr".
func CheckAddr(flag, addr string, allowRemote bool) error {
	_, err := check.Address(strings.TrimLeft(flag, "-"), addr, allowRemote)
	return err
}
