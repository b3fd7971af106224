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
		want string // scenario that must be flagged; "" = none
	}{
		{"maxconns_unset_512", ClientConfig{Client: "fasthttp", Concurrency: 600}, "no_free_conns"},
		{"maxconns_unset_under_512", ClientConfig{Client: "fasthttp", Concurrency: 500}, ""},
		{"fasthttp_idle_unset_10s", ClientConfig{Client: "fasthttp_host", Concurrency: 1, ServerIdle: 5 * time.Second}, "idle_mismatch"},
		{"fasthttp_idle_below", ClientConfig{Client: "fasthttp_host", Concurrency: 1, ServerIdle: 5 * time.Second, ClientIdle: time.Second}, ""},
		{"nethttp_idleconntimeout_0", ClientConfig{Client: "nethttp", Concurrency: 1, DrainsBody: true, ServerIdle: 5 * time.Second}, "idle_mismatch"},
		{"nethttp_keepalive_off", ClientConfig{Client: "nethttp", Concurrency: 8, DrainsBody: true, MaxIdleConnsPerHost: -1}, "keepalive_off"},
		{"nethttp_default_idle_pool", ClientConfig{Client: "nethttp", Concurrency: 8, DrainsBody: true}, "timewait_churn"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if err := tc.c.Validate(nil); err != nil {
				t.Fatal(err)
			}
			got := Doctor(tc.c)
			if tc.want == "" && len(got) != 0 || tc.want != "" && !Exposed(got, tc.want) {
				t.Errorf("Doctor(%+v) = %v, want %q", tc.c, got, tc.want)
			}
			if tc.c.MaxIdleConnsPerHost < 0 && Exposed(got, "timewait_churn") {
				t.Errorf("keep-alive off read as churn: %v", got)
			}
		})
	}
}
