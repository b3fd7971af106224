package wrk

import (
	"context"
	"errors"
	"math"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/poolbench/poolbench/servers"
	"github.com/poolbench/poolbench/servers/app"
)

func TestParseCaptured(t *testing.T) {
	t.Parallel()
	ms := func(f float64) time.Duration { return time.Duration(math.Round(f * float64(time.Millisecond))) }
	for _, c := range []struct {
		file string
		want Result
	}{
		{"nethttp_16conns.txt", Result{
			Conns: 16, Requests: 23738, Duration: ms(2020), ReqPerSec: 11776.72, ReadBytes: 2726298,
			LatencyAvg: ms(5.99), LatencyStdev: ms(12.85), LatencyMax: ms(82.70),
			P50: 762 * time.Microsecond, P75: ms(4.64), P90: ms(17.72), P99: ms(65.38),
		}},
		{"non2xx.txt", Result{
			Conns: 16, Requests: 6638, Duration: ms(1040), ReqPerSec: 6407.69, ReadBytes: 1142948,
			LatencyAvg: ms(47.13), LatencyStdev: ms(87.37), LatencyMax: ms(362.73),
			P50: ms(1.28), P75: ms(52.71), P90: ms(189.27), P99: ms(346.26), Non2xx3xx: 6638,
		}},
		{"socket_errors.txt", Result{
			Conns: 4, Requests: 10648, Duration: ms(1030), ReqPerSec: 10293.48, ReadBytes: 425923,
			LatencyAvg: ms(1.14), LatencyStdev: ms(4.20), LatencyMax: ms(35.81),
			P50: 36 * time.Microsecond, P75: 62 * time.Microsecond, P90: ms(1.53), P99: ms(23.73),
			SocketErrors: SocketErrors{Read: 21296},
		}},
	} {
		t.Run(c.file, func(t *testing.T) {
			t.Parallel()
			b, err := os.ReadFile(filepath.Join("testdata", c.file))
			if err != nil {
				t.Fatal(err)
			}
			got, err := Parse(b)
			if err != nil {
				t.Fatal(err)
			}
			if got != c.want {
				t.Errorf("Parse(%s)\n got %+v\nwant %+v", c.file, got, c.want)
			}
		})
	}
}

func TestParseRejects(t *testing.T) {
	t.Parallel()
	good, err := os.ReadFile("testdata/nethttp_16conns.txt")
	if err != nil {
		t.Fatal(err)
	}
	for name, in := range map[string]string{
		"empty":         "",
		"usage":         "Usage: wrk <options> <url>\n",
		"no --latency":  strings.Replace(string(good), "     50%  762.00us\n", "", 1),
		"bad duration":  strings.Replace(string(good), "in 2.02s", "in 2.02parsecs", 1),
		"bad errors":    string(good) + "  Socket errors: connect x, read 0, write 0, timeout 0\n",
		"bad requests":  strings.Replace(string(good), "Requests/sec:  11776.72", "Requests/sec:  many", 1),
		"bad byte unit": strings.Replace(string(good), "2.60MB read", "2.60MX read", 1),
	} {
		if _, err := Parse([]byte(in)); err == nil {
			t.Errorf("%s: Parse returned no error", name)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, name := range []string{"nethttp_16conns.txt", "non2xx.txt", "socket_errors.txt"} {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := Parse(b)
		if err == nil && (r.Requests < 0 || r.Duration < 0 || r.ReqPerSec < 0) {
			t.Errorf("Parse accepted negative numbers: %+v", r)
		}
	})
}

func TestValidate(t *testing.T) {
	t.Parallel()
	ok := Config{URL: "http://127.0.0.1:8080/plaintext", Conns: 16, Duration: 2 * time.Second}
	if err := ok.Validate(); err != nil {
		t.Fatalf("valid config: %v", err)
	}
	if got, want := strings.Join(ok.Args(), " "), "-t1 -c16 -d2s --latency http://127.0.0.1:8080/plaintext"; got != want {
		t.Errorf("Args = %q, want %q", got, want)
	}
	for name, c := range map[string]Config{
		"not loopback": {URL: "http://192.0.2.1:80/", Conns: 1, Duration: time.Second},
		"a name":       {URL: "http://example.org/", Conns: 1, Duration: time.Second},
		"https":        {URL: "https://127.0.0.1:1/", Conns: 1, Duration: time.Second},
		"conns":        {URL: ok.URL, Duration: time.Second},
		"sub-second":   {URL: ok.URL, Conns: 1, Duration: 1500 * time.Millisecond},
		"cpu":          {URL: ok.URL, Conns: 1, Duration: time.Second, CPUs: []int{-1}},
	} {
		if err := c.Validate(); err == nil {
			t.Errorf("%s: %+v validated", name, c)
		}
		// Run refuses before starting anything, wrk installed or not.
		if _, _, err := Run(context.Background(), c); err == nil || errors.Is(err, ErrNotInstalled) {
			t.Errorf("%s: Run = %v, want the validation error", name, err)
		}
	}
}

func TestNotInstalled(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	_, _, err := Run(context.Background(), Config{URL: "http://127.0.0.1:1/", Conns: 1, Duration: time.Second})
	if !errors.Is(err, ErrNotInstalled) || strings.Contains(err.Error(), "\n") {
		t.Errorf("Run without wrk = %v, want ErrNotInstalled on one line", err)
	}
}

func TestStartPinned(t *testing.T) {
	t.Parallel()
	cmd := exec.Command("grep", "Cpus_allowed_list", "/proc/self/status")
	var out strings.Builder
	cmd.Stdout = &out
	if err := startPinned(cmd, []int{0}); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatal(err)
	}
	if f := strings.Fields(out.String()); len(f) != 2 || f[1] != "0" {
		t.Errorf("child's %q, want Cpus_allowed_list 0", out.String())
	}
}

func TestRunAgainstServer(t *testing.T) {
	if _, err := exec.LookPath("wrk"); err != nil {
		t.Skip(ErrNotInstalled)
	}
	t.Parallel()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	h := app.NewHandler(app.AllOn)
	srv := servers.Start(servers.Baseline(), servers.Config{Handler: h}, ln)
	defer srv.Stop(5 * time.Second)
	c := Config{URL: "http://" + ln.Addr().String() + app.PlaintextPath, Conns: 4, Duration: time.Second, CPUs: []int{0}}
	res, cost, err := Run(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	served := int64(h.Served())
	if res.Requests < 100 || res.Requests > served || served > res.Requests+int64(c.Conns) {
		t.Errorf("wrk counted %d requests, the server served %d: want ≥ 100 and within %d (requests in flight at the end)", res.Requests, served, c.Conns)
	}
	if res.Conns != 4 || res.P50 <= 0 || res.P99 < res.P50 || res.ReqPerSec <= 0 {
		t.Errorf("result %+v: want 4 conns, 0 < p50 ≤ p99 and a rate", res)
	}
	if cost.UserNanos+cost.SysNanos <= 0 || cost.WriteCalls < 1 || cost.ReadCalls < 1 {
		t.Errorf("wrk's cost %+v: want CPU time and system calls", cost)
	}

	// A route that answers 404 is an error, with the result still parsed.
	c.URL = "http://" + ln.Addr().String() + "/nope"
	res, _, err = Run(context.Background(), c)
	if err == nil || !strings.Contains(err.Error(), "not 2xx or 3xx") || res.Non2xx3xx == 0 {
		t.Errorf("Run on a 404 route = %+v, %v: want a non-2xx error", res, err)
	}
}
