package main

import (
	"errors"
	"strings"
	"testing"
)

// TestScenariosUsage: bad names, inapplicable and negative doctor flags
// are refused as usage errors (exit 2) before anything runs.
func TestScenariosUsage(t *testing.T) {
	t.Parallel()
	for _, args := range []string{
		"-doctor -client net/http",
		"-doctor -max-conn-wait -1s",
		"-doctor -client nethttp -max-conns 4",
		"-doctor -client nethttp -stream-body",
		"-doctor -concurrency 0",
		"-run nope",
		"-fasthttp 1.38",
		"-fasthttp v1.38.0,v1.38.0",
		"-fasthttp v1.38.0 -run nope",
		"-max-conns 3",
	} {
		t.Run(args, func(t *testing.T) {
			t.Parallel()
			if err := scenariosCmd(t.Context(), strings.Fields(args)); !errors.Is(err, errUsage) {
				t.Errorf("scenarios %s: got %v, want a usage error (exit 2)", args, err)
			}
		})
	}
}

// TestDoctorExit: a config exposed to a known failure is a finding (exit 1);
// a config the doctor finds nothing in is not.
func TestDoctorExit(t *testing.T) {
	t.Parallel()
	err := scenariosCmd(t.Context(), strings.Fields("-doctor -client fasthttp_host -max-conns 4 -concurrency 16"))
	var ee *exitError
	if !errors.As(err, &ee) || ee.code != 1 {
		t.Errorf("exposed config: got %v, want an exit-1 finding", err)
	}
	clean := "-doctor -client fasthttp_host -max-conns 64 -concurrency 16 -read-timeout 1s -max-attempts 1 -server-limit 64 -client-idle 1s -server-idle 5s -retry-post -server-dedup"
	if err := scenariosCmd(t.Context(), strings.Fields(clean)); err != nil {
		t.Errorf("%s: got %v, want no finding", clean, err)
	}
}
