package app

import (
	"fmt"
	"strings"

	"github.com/poolbench/poolbench/registry"
)

// RouteSpec is one request the matrices can send, with what decides the
// response it must get.
type RouteSpec struct {
	// Name is the cell value, e.g. "app".
	Name string
	// Target is the request's path and query.
	Target string
	// Variants reports whether the switches apply to this route; cells of
	// routes without carry "na" for every switch.
	Variants bool
}

// Routes is the registry of routes, in cell order.
var Routes = registry.New("route", func(r RouteSpec) string { return r.Name },
	RouteSpec{Name: "plaintext", Target: PlaintextPath, Variants: false},
	RouteSpec{Name: "app", Target: "/app/users?ids=17,42,133,256,404,999&fields=id,name,email,city", Variants: true},
)

// Expect returns the status and body length every model and variant must
// answer r with, computed by the app itself.
func (r RouteSpec) Expect() (status, bodyLen int) {
	if !r.Variants {
		return 200, len(HelloWorld)
	}
	path, query, _ := strings.Cut(r.Target, "?")
	ex := NewHandler(AllOn).ServeString(path, query)
	if ex.Status != 200 {
		panic(fmt.Sprintf("route %s: the app answers %s with %d", r.Name, r.Target, ex.Status))
	}
	return ex.Status, len(ex.Body)
}
