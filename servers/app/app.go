// Package app is the application both server models serve: a plaintext route
// (TechEmpower's "Hello, World!") and an app route that parses the path and
// query, looks users up in an in-memory table and renders JSON by appending
// into a buffer. Its Variant switches fasthttp's three allocation techniques
// on and off at run time; responses are byte-identical for every variant.
package app

import (
	"strconv"
	"sync"
	"sync/atomic"
)

// Route names a route served by both models.
type Route int

// The routes.
const (
	RouteApp Route = iota
	RoutePlaintext
)

// PlaintextPath is the path of the plaintext route.
const PlaintextPath = "/plaintext"

// Content types, as byte slices for fasthttp and as header values for net/http.
var (
	ContentTypeJSON  = []byte("application/json")
	ContentTypePlain = []byte("text/plain")
	// HelloWorld is the plaintext route's body.
	HelloWorld = []byte("Hello, World!")
)

// RouteOf returns the route a request path belongs to. Every path but
// PlaintextPath goes to the app route, which answers 404 for unknown ones.
func RouteOf(path []byte) Route {
	if string(path) == PlaintextPath {
		return RoutePlaintext
	}
	return RouteApp
}

// maxIDs bounds the ids a request may ask for, keeping bodies under net/http's
// 2 KiB buffer so both models send Content-Length rather than chunks.
const maxIDs = 8

// Exchange is one request's state: the parsed request and the rendered
// response. Serve returns it; the caller writes Status and Body, then hands it
// back with Release. With pool on, exchanges are recycled through a sync.Pool.
type Exchange struct {
	// Status is the HTTP status code of the response.
	Status int
	// Body is the rendered JSON body.
	Body []byte

	segs    []string // path segments
	params  []param  // query arguments in order
	ids     []string // the ids argument, split on ','
	fields  []string // the fields argument, split on ','
	missing []string // ids not found in the table
}

type param struct{ key, value string }

// Handler serves the app route with one Variant. It is safe for concurrent use.
type Handler struct {
	v      Variant
	table  map[string]*Record
	pool   sync.Pool
	served atomic.Uint64
	hooks  []hook // the switch table's hooks, with their state in v
}

// hook is one switch's Hook bound to its state.
type hook struct {
	fn func(on bool, ex *Exchange)
	on bool
}

// NewHandler returns a handler for variant v over the built-in user table.
func NewHandler(v Variant) *Handler {
	h := &Handler{v: v, table: newTable()}
	h.pool.New = func() any { return newExchange() }
	for i, sw := range Switches.All() {
		if sw.Hook != nil {
			h.hooks = append(h.hooks, hook{sw.Hook, v.On(i)})
		}
	}
	return h
}

// Variant reports the handler's variant.
func (h *Handler) Variant() Variant { return h.v }

// Served counts the requests served by Serve, ServeString and CountPlaintext.
func (h *Handler) Served() uint64 { return h.served.Load() }

// CountPlaintext records one plaintext request served.
func (h *Handler) CountPlaintext() { h.served.Add(1) }

// newExchange allocates an exchange with fresh buffers: the pool=off cost.
//
//go:noinline
func newExchange() *Exchange {
	return &Exchange{
		Body:   make([]byte, 0, 1024),
		segs:   make([]string, 0, 4),
		params: make([]param, 0, 4),
		ids:    make([]string, 0, maxIDs),
		fields: make([]string, 0, 4),
	}
}

func (h *Handler) acquire() *Exchange {
	if !h.v.On(Pool) {
		return newExchange()
	}
	ex := h.pool.Get().(*Exchange)
	if h.v.On(Reuse) {
		ex.Body = ex.Body[:0]
		ex.segs = ex.segs[:0]
		ex.params = ex.params[:0]
		ex.ids = ex.ids[:0]
		ex.fields = ex.fields[:0]
		ex.missing = ex.missing[:0]
	} else {
		ex.Body, ex.segs, ex.params, ex.ids, ex.fields, ex.missing = nil, nil, nil, nil, nil, nil
	}
	return ex
}

// Release returns ex for reuse once its Body has been written out.
func (h *Handler) Release(ex *Exchange) {
	if h.v.On(Pool) {
		h.pool.Put(ex)
	}
}

// ServeString is Serve for stacks that hand out the path and the raw query as
// strings (net/http); the conv switch decides whether they are copied.
func (h *Handler) ServeString(path, rawQuery string) *Exchange {
	return h.Serve(h.bytes(path), h.bytes(rawQuery))
}

// Serve handles one app-route request given its decoded path and raw query.
// path and query are only read, and only during the call.
//
// GET /app/users?ids=1,2,3&fields=name,email renders
// {"count":3,"users":[{"id":"1","name":…,"email":…},…],"missing":[]}.
func (h *Handler) Serve(path, query []byte) *Exchange {
	h.served.Add(1)
	ex := h.acquire()
	for _, hk := range h.hooks {
		hk.fn(hk.on, ex)
	}
	path = plantedSpin(path) // off unless calibrating (planted.go)
	ex.segs = h.split(ex.segs, path, '/')
	if len(ex.segs) != 2 || ex.segs[0] != "app" || ex.segs[1] != "users" {
		return ex.fail(404, "no such route: want /app/users or "+PlaintextPath)
	}
	ex.params = h.parseQuery(ex.params, query)
	for i := range ex.params {
		p := &ex.params[i]
		switch p.key {
		case "ids":
			ex.ids = splitString(ex.ids, p.value, ',')
		case "fields":
			ex.fields = splitString(ex.fields, p.value, ',')
		default:
			return ex.fail(400, "unknown query argument: want ids and fields")
		}
	}
	if len(ex.ids) == 0 {
		return ex.fail(400, "missing ids: want e.g. ids=1,2,3")
	}
	if len(ex.ids) > maxIDs {
		return ex.fail(400, "too many ids: at most "+strconv.Itoa(maxIDs))
	}
	if len(ex.fields) == 0 {
		ex.fields = append(ex.fields, "id", "name", "email", "city")
	}
	var probe Record
	for _, f := range ex.fields {
		if _, ok := probe.field(f); !ok {
			return ex.fail(400, "unknown field: want id, name, email or city")
		}
	}
	return h.render(ex)
}

func (h *Handler) render(ex *Exchange) *Exchange {
	b := append(ex.Body, `{"users":[`...)
	n := 0
	for _, id := range ex.ids {
		r, ok := h.table[id]
		if !ok {
			ex.missing = append(ex.missing, id)
			continue
		}
		if n > 0 {
			b = append(b, ',')
		}
		n++
		b = append(b, '{')
		for i, f := range ex.fields {
			if i > 0 {
				b = append(b, ',')
			}
			v, _ := r.field(f)
			b = appendJSONString(b, f)
			b = append(b, ':')
			b = appendJSONString(b, v)
		}
		b = append(b, '}')
	}
	b = append(b, `],"count":`...)
	b = strconv.AppendInt(b, int64(n), 10)
	b = append(b, `,"missing":[`...)
	for i, id := range ex.missing {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, id)
	}
	b = append(b, "]}\n"...)
	ex.Status, ex.Body = 200, b
	return ex
}

// fail renders an error body; msg is a constant, so no request data is echoed.
func (ex *Exchange) fail(status int, msg string) *Exchange {
	b := append(ex.Body, `{"error":`...)
	b = appendJSONString(b, msg)
	b = append(b, "}\n"...)
	ex.Status, ex.Body = status, b
	return ex
}

// split appends the non-empty sep-separated parts of b to dst as strings.
func (h *Handler) split(dst []string, b []byte, sep byte) []string {
	start := 0
	for i := 0; i <= len(b); i++ {
		if i == len(b) || b[i] == sep {
			if i > start {
				dst = append(dst, h.str(b[start:i]))
			}
			start = i + 1
		}
	}
	return dst
}

// splitString appends the non-empty sep-separated parts of s to dst.
func splitString(dst []string, s string, sep byte) []string {
	start := 0
	for i := 0; i <= len(s); i++ {
		if i == len(s) || s[i] == sep {
			if i > start {
				dst = append(dst, s[start:i])
			}
			start = i + 1
		}
	}
	return dst
}

// parseQuery appends the key=value pairs of a raw query to dst. Values are
// taken as they are: the app's arguments never need percent-decoding.
func (h *Handler) parseQuery(dst []param, q []byte) []param {
	start := 0
	for i := 0; i <= len(q); i++ {
		if i == len(q) || q[i] == '&' {
			if i > start {
				kv := q[start:i]
				k, v := kv, kv[:0]
				for j, c := range kv {
					if c == '=' {
						k, v = kv[:j], kv[j+1:]
						break
					}
				}
				dst = append(dst, param{key: h.str(k), value: h.str(v)})
			}
			start = i + 1
		}
	}
	return dst
}

const hexDigits = "0123456789abcdef"

// appendJSONString appends s as a JSON string literal.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' {
			continue
		}
		b = append(b, s[start:i]...)
		switch c {
		case '"', '\\':
			b = append(b, '\\', c)
		case '\n':
			b = append(b, '\\', 'n')
		case '\t':
			b = append(b, '\\', 't')
		case '\r':
			b = append(b, '\\', 'r')
		default:
			b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
		}
		start = i + 1
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
