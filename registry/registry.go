// Package registry is the one ordered, named table poolbench keeps every
// extensible axis in: server models, switches, routes, workloads,
// transports. Rows keep the order they were added in (cells run in it), and
// every unknown name gets the same one-line error.
package registry

import (
	"fmt"
	"regexp"
	"strings"
)

// validName is what a cell value may hold: lowercase [a-z0-9._].
var validName = regexp.MustCompile(`^[a-z0-9._]+$`)

// Registry is an ordered table of rows of T, each known by a unique name.
type Registry[T any] struct {
	kind string
	name func(T) string
	rows []T
}

// New returns a registry of kind (e.g. "server model", for messages) whose
// rows are named by name. It panics on a bad or duplicate name, like Add.
func New[T any](kind string, name func(T) string, rows ...T) *Registry[T] {
	r := &Registry[T]{kind: kind, name: name}
	r.Add(rows...)
	return r
}

// Add appends rows. Names must be unique and lowercase [a-z0-9._] (they
// become cell values); Add panics otherwise, since that is a programming error.
func (r *Registry[T]) Add(rows ...T) {
	for _, x := range rows {
		n := r.name(x)
		if !validName.MatchString(n) || n == "all" {
			panic(fmt.Sprintf("registry: %s name %q: want lowercase [a-z0-9._] and not \"all\"", r.kind, n))
		}
		if r.Index(n) >= 0 {
			panic(fmt.Sprintf("registry: %s %q registered twice", r.kind, n))
		}
		r.rows = append(r.rows, x)
	}
}

// Kind is what a row is, e.g. "server model".
func (r *Registry[T]) Kind() string { return r.kind }

// All returns every row, in order (a copy).
func (r *Registry[T]) All() []T { return append([]T(nil), r.rows...) }

// Len is the number of rows.
func (r *Registry[T]) Len() int { return len(r.rows) }

// Names returns the rows' names, in order.
func (r *Registry[T]) Names() []string {
	out := make([]string, len(r.rows))
	for i, x := range r.rows {
		out[i] = r.name(x)
	}
	return out
}

// Index returns the position of the row named name, or -1.
func (r *Registry[T]) Index(name string) int {
	for i, x := range r.rows {
		if r.name(x) == name {
			return i
		}
	}
	return -1
}

// Lookup returns the row named name, or the registry's one-line error:
// unknown <kind> "<name>": want one of a, b, c.
func (r *Registry[T]) Lookup(name string) (T, error) {
	if i := r.Index(name); i >= 0 {
		return r.rows[i], nil
	}
	var zero T
	return zero, r.Unknown(name)
}

// Unknown is the error for a name that is not registered.
func (r *Registry[T]) Unknown(name string) error {
	return fmt.Errorf("unknown %s %q: want one of %s", r.kind, name, strings.Join(r.Names(), ", "))
}

// Parse parses a comma-separated list of names, in the order given; "" or
// "all" is every row.
func (r *Registry[T]) Parse(list string) ([]T, error) {
	if s := strings.TrimSpace(list); s == "" || s == "all" {
		return r.All(), nil
	}
	var out []T
	for _, name := range strings.Split(list, ",") {
		x, err := r.Lookup(strings.TrimSpace(name))
		if err != nil {
			return nil, err
		}
		out = append(out, x)
	}
	return out, nil
}
