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
