package main

import (
	"os"
	"os/signal"
	"syscall"
)

// watchSignals starts recording SIGINT and SIGTERM beside main's context
// and returns the exit code of what arrived: 143 after a SIGTERM, else 130.
// main cancels the context on either; this tells them apart.
func watchSignals() func() int {
	ch := make(chan os.Signal, 4)
	signal.Notify(ch, os.Interrupt, syscall.SIGTERM)
	code := 130
	return func() int {
		for {
			select {
			case s := <-ch:
				if s == syscall.SIGTERM {
					code = 143
				}
			default:
				return code
			}
		}
	}
}
