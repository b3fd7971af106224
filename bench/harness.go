package bench

import (
	"github.com/poolbench/poolbench/servers/app"
	"github.com/poolbench/poolbench/workloads/driver"
)

// Request returns the pre-encoded request for route r together with the
// status and body length every model and variant must answer with.
func Request(r app.RouteSpec) *driver.Request {
	status, n := r.Expect()
	return driver.NewGET("poolbench", r.Target, status, n)
}
