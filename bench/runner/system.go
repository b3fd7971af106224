package runner

import (
	"fmt"
	"strconv"
	"strings"
	"syscall"
)

// fdSlack is the file descriptors a process needs besides its connections.
const fdSlack = 64

// CheckFDs makes sure this process may open conns connections, raising the
// soft RLIMIT_NOFILE to the hard limit if needed, and names the fix if not.
func CheckFDs(conns int) error {
	need := uint64(conns + fdSlack)
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return fmt.Errorf("reading RLIMIT_NOFILE: %w", err)
	}
	if lim.Cur >= need {
		return nil
	}
	if lim.Max >= need {
		lim.Cur = lim.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err == nil {
			return nil
		}
	}
	return fmt.Errorf("conns=%d needs %d open files but RLIMIT_NOFILE is %d (hard %d): raise it (ulimit -n %d) or lower conns",
		conns, need, lim.Cur, lim.Max, need)
}

// portOf returns the port of a host:port address.
func portOf(addr string) (int, error) {
	i := strings.LastIndexByte(addr, ':')
	if i < 0 {
		return 0, fmt.Errorf("address %q has no port", addr)
	}
	return strconv.Atoi(addr[i+1:])
}
