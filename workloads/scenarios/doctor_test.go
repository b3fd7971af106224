package scenarios

import (
	"testing"
	"time"
)

// TestDoctorDefaults: the rules resolve the defaults a config leaves unset.
func TestDoctorDefaults(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		c    ClientConfig
		// want must be flagged, notWant must not ("" = no check).
		want, notWant string
	}{
		{"maxconns_unset_512", ClientConfig{Client: "fasthttp", Concurrency: 600}, "default_maxconns", ""},
		{"maxconns_unset_under_512", ClientConfig{Client: "fasthttp", Concurrency: 500}, "", "default_maxconns"},
		{"fasthttp_idle_unset_10s", ClientConfig{Client: "fasthttp_host", Concurrency: 1, ServerIdle: 5 * time.Second}, "idle_mismatch", ""},
		{"fasthttp_idle_below", ClientConfig{Client: "fasthttp_host", Concurrency: 1, ServerIdle: 5 * time.Second, ClientIdle: time.Second}, "", "idle_mismatch"},
		{"nethttp_idleconntimeout_0", ClientConfig{Client: "nethttp", Concurrency: 1, DrainsBody: true, ServerIdle: 5 * time.Second}, "idle_mismatch", ""},
		{"nethttp_keepalive_off", ClientConfig{Client: "nethttp", Concurrency: 8, DrainsBody: true, MaxIdleConnsPerHost: -1}, "keepalive_off", "timewait_churn"},
		{"nethttp_default_idle_pool", ClientConfig{Client: "nethttp", Concurrency: 8, DrainsBody: true}, "timewait_churn", "keepalive_off"},
		{"nethttp_no_timeout", ClientConfig{Client: "nethttp", Concurrency: 1, DrainsBody: true}, "timeouts", ""},
		{"nethttp_keepalive_off_silent_peer", ClientConfig{Client: "nethttp", Concurrency: 1, DrainsBody: true, ReadTimeout: time.Second, KeepAlive: -1}, "dead_peer", ""},
		{"nethttp_keepalive_default", ClientConfig{Client: "nethttp", Concurrency: 1, DrainsBody: true, ReadTimeout: time.Second}, "", "dead_peer"},
		{"fasthttp_post_no_retry", ClientConfig{Client: "fasthttp_host", Concurrency: 1}, "first_byte_causes", ""},
		{"fasthttp_over_server_concurrency", ClientConfig{Client: "fasthttp_host", Concurrency: 8, Idempotent: true, ServerLimit: 4}, "first_byte_causes", ""},
		{"fasthttp_within_server_concurrency", ClientConfig{Client: "fasthttp_host", Concurrency: 8, Idempotent: true, ServerLimit: 4, MaxConns: 4}, "", "first_byte_causes"},
		{"nethttp_client_timeout", ClientConfig{Client: "nethttp", Concurrency: 1, DrainsBody: true, ReadTimeout: time.Second}, "", "timeouts"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if err := tc.c.Validate(nil); err != nil {
				t.Fatal(err)
			}
			got := Doctor(tc.c)
			if tc.want != "" && !Exposed(got, tc.want) {
				t.Errorf("Doctor(%+v) = %v, want %s flagged", tc.c, got, tc.want)
			}
			if tc.notWant != "" && Exposed(got, tc.notWant) {
				t.Errorf("Doctor(%+v) = %v, want no %s", tc.c, got, tc.notWant)
			}
		})
	}
}
