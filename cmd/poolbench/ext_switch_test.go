package main

import "github.com/poolbench/poolbench/servers/app"

// A test-only switch: "ballast" off allocates a 256-byte buffer per request.
// One row and the code it toggles; the extension test finds ballast=on/off
// in both layers' cells and the allocation in allocs/op.
func init() {
	app.Switches.Add(app.Switch{Key: "ballast", Label: "no ballast", Doc: "test only: off allocates 256 bytes per request", Hook: ballast})
}

// ballastSink keeps the buffer reachable so the compiler cannot drop it.
var ballastSink []byte

func ballast(on bool, _ *app.Exchange) {
	if !on {
		ballastSink = make([]byte, 256)
	}
}
