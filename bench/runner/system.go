package runner

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// CountTimeWait counts sockets in TIME_WAIT whose local or remote port is
// port, from /proc/net/tcp and /proc/net/tcp6.
func CountTimeWait(port int) (int, error) {
	n := 0
	hexPort := fmt.Sprintf(":%04X", port)
	for _, f := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		fh, err := os.Open(f)
		if err != nil {
			if os.IsNotExist(err) {
				continue
			}
			return 0, fmt.Errorf("counting TIME_WAIT sockets: %w", err)
		}
		sc := bufio.NewScanner(fh)
		for sc.Scan() {
			// sl local_address rem_address st ...
			fields := strings.Fields(sc.Text())
			if len(fields) < 4 || fields[3] != "06" {
				continue
			}
			if strings.HasSuffix(fields[1], hexPort) || strings.HasSuffix(fields[2], hexPort) {
				n++
			}
		}
		fh.Close()
		if err := sc.Err(); err != nil {
			return 0, fmt.Errorf("reading %s: %w", f, err)
		}
	}
	return n, nil
}

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
