package bench

import (
	"fmt"
	"strings"

	"github.com/poolbench/poolbench/servers/app"
	"github.com/poolbench/poolbench/workloads/driver"
)

// Request returns the pre-encoded request for route r together with the
// status and body length every model and variant must answer with, computed
// by the app itself.
func (r Route) Request() *driver.Request {
	if !r.Variants {
		return driver.NewGET("poolbench", r.Target, 200, len(app.HelloWorld))
	}
	path, query, _ := strings.Cut(r.Target, "?")
	h := app.NewHandler(app.AllOn)
	ex := h.ServeString(path, query)
	if ex.Status != 200 {
		panic(fmt.Sprintf("route %s: the app answers %s with %d", r.Name, r.Target, ex.Status))
	}
	return driver.NewGET("poolbench", r.Target, ex.Status, len(ex.Body))
}
