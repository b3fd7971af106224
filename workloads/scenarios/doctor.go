package scenarios

import (
	"fmt"
	"time"
)

// ClientConfig is what the doctor needs to know about a client and the
// server it talks to.
type ClientConfig struct {
	// Client is "fasthttp_host" (fasthttp's Client uses a HostClient per
	// host, with the same rules) or "nethttp".
	Client string
	// ServerIdle is the server's keep-alive idle timeout; 0 if unknown.
	ServerIdle time.Duration
	// ClientIdle is MaxIdleConnDuration (fasthttp, 0 = 10 s) or
	// IdleConnTimeout (net/http).
	ClientIdle time.Duration
	// MaxConns and MaxConnWaitTimeout of a HostClient.
	MaxConns           int
	MaxConnWaitTimeout time.Duration
	// Concurrency is how many requests the application sends at once.
	Concurrency int
	// MaxIdleConnsPerHost of a net/http Transport (0 = 2).
	MaxIdleConnsPerHost int
	// Idempotent: the requests are GET/HEAD/PUT…, which fasthttp retries.
	Idempotent bool
	// MaxAttempts is MaxIdemponentCallAttempts (0 = 5).
	MaxAttempts int
	// DrainsBody: the code reads every response body to the end (net/http).
	DrainsBody bool
	// UsesDoTimeout / ReadTimeout: the client gives up on slow responses.
	UsesDoTimeout bool
	ReadTimeout   time.Duration
	// ServerLimit bounds the handlers the server runs at once (fasthttp
	// Server.Concurrency or a semaphore); 0 if unbounded or unknown.
	ServerLimit int
}

// Exposure is one failure a config is exposed to.
type Exposure struct {
	// Scenario names the failure (a scenario's Name).
	Scenario string
	// Why says which settings cause it and what to change.
	Why string
}

// Doctor lists the failures that config is exposed to, by the rules the
// scenarios demonstrate.
func Doctor(c ClientConfig) []Exposure {
	var out []Exposure
	add := func(name, format string, args ...any) {
		out = append(out, Exposure{name, fmt.Sprintf(format, args...)})
	}
	switch c.Client {
	case "fasthttp_host", "fasthttp":
		if c.MaxConns > 0 && c.Concurrency > c.MaxConns && c.MaxConnWaitTimeout == 0 {
			add("no_free_conns", "MaxConns=%d < %d concurrent requests and MaxConnWaitTimeout=0: ErrNoFreeConns; set MaxConnWaitTimeout or raise MaxConns", c.MaxConns, c.Concurrency)
		}
		idle := c.ClientIdle
		if idle == 0 {
			idle = 10 * time.Second
		}
		if c.ServerIdle > 0 && idle >= c.ServerIdle {
			if !c.Idempotent || c.MaxAttempts == 1 {
				add("idle_mismatch", "client idle %v ≥ server idle %v and requests are not retried: ErrConnectionClosed; set MaxIdleConnDuration below %v", idle, c.ServerIdle, c.ServerIdle)
			} else {
				add("idle_mismatch", "client idle %v ≥ server idle %v: every reuse after a pause fails and is retried on a new dial (hidden); set MaxIdleConnDuration below %v", idle, c.ServerIdle, c.ServerIdle)
			}
		}
	case "nethttp":
		per := c.MaxIdleConnsPerHost
		if per == 0 {
			per = 2
		}
		if c.Concurrency > per {
			add("timewait_churn", "MaxIdleConnsPerHost=%d < %d concurrent requests: connections beyond it are closed after each request (dials ≈ requests, TIME_WAIT); set it to the concurrency", per, c.Concurrency)
		}
		if !c.DrainsBody {
			add("unread_body", "response bodies closed unread: the connection cannot be reused; io.Copy(io.Discard, resp.Body) before Close")
		}
	}
	if (c.UsesDoTimeout || c.ReadTimeout > 0) && c.ServerLimit == 0 {
		add("dotimeout_leak", "the client gives up after a timeout, the server does not: abandoned handlers keep running while the client dials anew, so the server runs more than MaxConns at once; bound the work on the server (Concurrency or a semaphore)")
		if !c.UsesDoTimeout && c.Idempotent && c.MaxAttempts != 1 && c.Client != "nethttp" {
			add("dotimeout_leak", "ReadTimeout with retries: Do sends a timed-out idempotent request again, up to %d times; set MaxIdemponentCallAttempts=1 or a RetryIf", max(c.MaxAttempts, 5))
		}
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
