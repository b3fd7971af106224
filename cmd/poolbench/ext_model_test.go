package main

import (
	"context"
	"errors"
	"net"
	"net/http"

	"github.com/poolbench/poolbench/servers"
	"github.com/poolbench/poolbench/servers/app"
)

// A test-only third server model: net/http with its routes on an
// http.ServeMux. One file and the one row below; the extension test finds it
// in both layers' cells.
func init() {
	servers.Models.Add(servers.Model{Name: "nethttp_mux", Doc: "test only: net/http.Server with an http.ServeMux", New: newMux})
}

type muxServer struct{ s *http.Server }

func newMux(cfg servers.Config) servers.Server {
	h := cfg.Handler
	mux := http.NewServeMux()
	mux.HandleFunc(app.PlaintextPath, func(w http.ResponseWriter, _ *http.Request) {
		h.CountPlaintext()
		w.Header().Set("Content-Type", string(app.ContentTypePlain))
		w.Write(app.HelloWorld) //nolint:errcheck
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		ex := h.ServeString(r.URL.Path, r.URL.RawQuery)
		w.Header().Set("Content-Type", string(app.ContentTypeJSON))
		w.WriteHeader(ex.Status)
		w.Write(ex.Body) //nolint:errcheck
		h.Release(ex)
	})
	return &muxServer{s: &http.Server{Handler: mux, IdleTimeout: cfg.Knobs.IdleTimeout}}
}

func (m *muxServer) Serve(ln net.Listener) error {
	if err := m.s.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

func (m *muxServer) Shutdown(ctx context.Context) error { return m.s.Shutdown(ctx) }
