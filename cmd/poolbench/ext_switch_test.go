package main

import (
	"sync/atomic"

	"github.com/poolbench/poolbench/servers/app"
)

// A test-only switch: "ballast" off allocates four 256-byte buffers per request.
// One row and the code it toggles; the extension test finds ballast=on/off
// in both layers' cells and the allocation in allocs/op.
func init() {
	app.Switches.Add(app.Switch{Key: "ballast", Label: "no ballast", Doc: "test only: off allocates four 256-byte buffers per request", Hook: ballast})
}

// ballastSink keeps the buffer reachable so the compiler cannot drop it.
var ballastSink atomic.Pointer[[256]byte]

func ballast(on bool, _ *app.Exchange) {
	if !on {
		for range 4 {
			ballastSink.Store(new([256]byte))
		}
	}
}
