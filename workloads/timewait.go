package workloads

import (
	"bufio"
	"fmt"
	"os"
	"strings"
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
