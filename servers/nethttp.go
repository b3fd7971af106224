package servers

import (
	"context"
	"errors"
	"net"
	"net/http"

	"github.com/poolbench/poolbench/servers/app"
)

// netHTTP serves the app with net/http: one goroutine per connection.
type netHTTP struct {
	s   *http.Server
	app *app.Handler
}

var _ Server = (*netHTTP)(nil)

// Header values shared by every response: net/http only reads them.
var (
	headerJSON  = []string{string(app.ContentTypeJSON)}
	headerPlain = []string{string(app.ContentTypePlain)}
)

func newNetHTTP(cfg Config) Server {
	n := &netHTTP{app: cfg.Handler}
	k := cfg.Knobs
	n.s = &http.Server{
		Handler:           n,
		IdleTimeout:       k.IdleTimeout,
		ReadTimeout:       k.ReadTimeout,
		WriteTimeout:      k.WriteTimeout,
		ReadHeaderTimeout: k.ReadHeaderTimeout,
		MaxHeaderBytes:    k.MaxHeaderBytes,
	}
	return n
}

// ServeHTTP implements http.Handler.
func (n *netHTTP) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	if r.URL.Path == app.PlaintextPath {
		n.app.CountPlaintext()
		h["Content-Type"] = headerPlain
		w.Write(app.HelloWorld) //nolint:errcheck // the client sees a broken connection
		return
	}
	ex := n.app.ServeString(r.URL.Path, r.URL.RawQuery)
	h["Content-Type"] = headerJSON
	w.WriteHeader(ex.Status)
	w.Write(ex.Body) //nolint:errcheck // copied into the connection's buffer before Release
	n.app.Release(ex)
}

func (n *netHTTP) Serve(ln net.Listener) error {
	if err := n.s.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

func (n *netHTTP) Shutdown(ctx context.Context) error { return n.s.Shutdown(ctx) }
