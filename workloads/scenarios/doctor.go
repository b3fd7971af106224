package scenarios

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/valyala/fasthttp"
)

// ClientConfig is what the doctor needs to know about a client and the
// server it talks to. Zero values are the library defaults, which the rules
// resolve (MaxConns 0 = 512, MaxIdleConnDuration 0 = 10 s, IdleConnTimeout
// 0 = never, MaxIdleConnsPerHost 0 = 2).
type ClientConfig struct {
	// Client is a name in DoctorClients: "fasthttp_host", "fasthttp" or "nethttp".
	Client string
	// ServerIdle is the server's keep-alive idle timeout; 0 if unknown.
	ServerIdle time.Duration
	// ClientIdle is MaxIdleConnDuration (fasthttp, 0 = 10 s) or
	// IdleConnTimeout (net/http, 0 = no limit).
	ClientIdle time.Duration
	// MaxConns and MaxConnWaitTimeout of a HostClient (MaxConnsPerHost of
	// a Client); MaxConns 0 is DefaultMaxConnsPerHost (512).
	MaxConns           int
	MaxConnWaitTimeout time.Duration
	// Concurrency is how many requests the application sends at once.
	Concurrency int
	// MaxIdleConnsPerHost of a net/http Transport: 0 = 2, < 0 = keep-alive
	// off (no idle connection kept).
	MaxIdleConnsPerHost int
	// Idempotent: the requests are GET/HEAD/PUT…, which fasthttp retries.
	Idempotent bool
	// MaxAttempts is MaxIdemponentCallAttempts (0 = 5).
	MaxAttempts int
	// DrainsBody: the code reads every response body to the end (net/http)
	// or every BodyStream to the end and closes it (fasthttp streaming).
	DrainsBody bool
	// MaxIdleConns of a net/http Transport (0 = DefaultTransport's 100,
	// < 0 = no limit) and Hosts, how many hosts the client talks to.
	MaxIdleConns, Hosts int
	// RetryNonIdempotent: RetryIfErr or RetryIf retry POSTs; ServerDedups:
	// the server deduplicates requests by an idempotency key.
	RetryNonIdempotent, ServerDedups bool
	// StreamsBody: a fasthttp client with StreamResponseBody.
	StreamsBody bool
	// UsesDoTimeout / ReadTimeout: the client gives up on slow responses.
	UsesDoTimeout bool
	ReadTimeout   time.Duration
	// ServerLimit bounds the handlers the server runs at once (fasthttp
	// Server.Concurrency or a semaphore); 0 if unbounded or unknown.
	ServerLimit int
	// KeepAlive is a net/http Dialer's TCP keep-alive idle time: 0 = Go's
	// default (15 s), < 0 = off. No CLI flag sets it yet.
	KeepAlive time.Duration
}

// DoctorClient is one client the doctor knows, with the settings that
// apply to it (by the CLI flag that sets each).
type DoctorClient struct {
	Name, Doc string
	Flags     []string
	// Fast: a fasthttp client (its defaults and rules apply).
	Fast bool
}

// commonFlags apply to every client.
var commonFlags = []string{"server-dedup", "server-idle", "client-idle", "concurrency", "idempotent", "server-limit"}

// fastFlags apply to fasthttp's clients.
var fastFlags = []string{"retry-post", "max-conns", "max-conn-wait", "max-attempts", "dotimeout", "read-timeout", "stream-body", "drains-body"}

// DoctorClients is the registry of clients the doctor has rules for.
var DoctorClients = []DoctorClient{
	{Name: "fasthttp_host", Doc: "fasthttp.HostClient", Fast: true, Flags: fastFlags},
	{Name: "fasthttp", Doc: "fasthttp.Client (a HostClient per host, same rules)", Fast: true, Flags: fastFlags},
	{Name: "nethttp", Doc: "net/http Client with a Transport", Flags: []string{"max-idle-per-host", "max-idle", "hosts", "drains-body", "read-timeout"}},
}

// Validate checks c before any rule runs: a known client, flags (by CLI
// name, those the user set) that apply to it, and no negative durations or
// counts. The error is one line naming the flag, the value and what is
// allowed.
func (c ClientConfig) Validate(set []string) error {
	var dc *DoctorClient
	names := make([]string, len(DoctorClients))
	for i := range DoctorClients {
		names[i] = DoctorClients[i].Name
		if DoctorClients[i].Name == c.Client {
			dc = &DoctorClients[i]
		}
	}
	if dc == nil {
		return fmt.Errorf("-client %q: want one of %s", c.Client, strings.Join(names, ", "))
	}
	for _, f := range set {
		if f != "client" && !slices.Contains(commonFlags, f) && !slices.Contains(dc.Flags, f) {
			var for_ []string
			for _, d := range DoctorClients {
				if slices.Contains(d.Flags, f) {
					for_ = append(for_, d.Name)
				}
			}
			if len(for_) == 0 {
				continue // not a doctor flag (e.g. -run): the command checks those
			}
			return fmt.Errorf("-%s does not apply to -client %s: it is a setting of %s; drop it or pick that client", f, c.Client, strings.Join(for_, ", "))
		}
	}
	for _, d := range []struct {
		flag string
		v    time.Duration
	}{{"server-idle", c.ServerIdle}, {"client-idle", c.ClientIdle}, {"max-conn-wait", c.MaxConnWaitTimeout}, {"read-timeout", c.ReadTimeout}} {
		if d.v < 0 {
			return fmt.Errorf("-%s %v: want a duration ≥ 0 (0 = the default), e.g. 5s", d.flag, d.v)
		}
	}
	for _, n := range []struct {
		flag string
		v    int
	}{{"max-conns", c.MaxConns}, {"max-attempts", c.MaxAttempts}, {"server-limit", c.ServerLimit}} {
		if n.v < 0 {
			return fmt.Errorf("-%s %d: want a count ≥ 0 (0 = the default)", n.flag, n.v)
		}
	}
	if c.Concurrency < 1 {
		return fmt.Errorf("-concurrency %d: want requests in flight ≥ 1", c.Concurrency)
	}
	return nil
}

// fast reports whether c is a fasthttp client.
func (c ClientConfig) fast() bool {
	for _, d := range DoctorClients {
		if d.Name == c.Client {
			return d.Fast
		}
	}
	return false
}

// maxConns is MaxConns with fasthttp's default.
func (c ClientConfig) maxConns() (n int, unset bool) {
	if c.MaxConns <= 0 {
		return fasthttp.DefaultMaxConnsPerHost, true
	}
	return c.MaxConns, false
}

// idlePerHost is net/http's MaxIdleConnsPerHost with its default; < 0 is
// keep-alive off.
func (c ClientConfig) idlePerHost() int {
	if c.MaxIdleConnsPerHost == 0 {
		return defaultIdlePerHost
	}
	return c.MaxIdleConnsPerHost
}

// defaultIdlePerHost is net/http's DefaultMaxIdleConnsPerHost.
const defaultIdlePerHost = 2

// retries reports whether fasthttp retries c's requests after a failed
// reuse (idempotent and more than one attempt).
func (c ClientConfig) retries() bool { return c.Idempotent && c.MaxAttempts != 1 }

// Exposure is one failure a config is exposed to.
type Exposure struct {
	// Scenario names the failure (a scenario's Name).
	Scenario string
	// Why says which settings cause it and what to change.
	Why string
}

// expose is an Exposure of scenario s, formatted.
func expose(s Scenario, format string, args ...any) []Exposure {
	return []Exposure{{s.Name(), fmt.Sprintf(format, args...)}}
}

// Doctor lists the failures that config is exposed to: every scenario's
// own rule (Diagnose), in registry order.
func Doctor(c ClientConfig) []Exposure {
	var out []Exposure
	for _, s := range All {
		out = append(out, s.Diagnose(c)...)
	}
	return out
}

// Exposed reports whether exps names the scenario.
func Exposed(exps []Exposure, scenario string) bool {
	for _, e := range exps {
		if e.Scenario == scenario {
			return true
		}
	}
	return false
}
