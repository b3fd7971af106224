package servers

import (
	"context"
	"net"

	"github.com/valyala/fasthttp"

	"github.com/poolbench/poolbench/servers/app"
)

// fastHTTP serves the app with fasthttp's worker pool.
type fastHTTP struct {
	s   *fasthttp.Server
	app *app.Handler
}

var _ Server = (*fastHTTP)(nil)

func newFastHTTP(cfg Config) Server {
	f := &fastHTTP{app: cfg.Handler}
	k := cfg.Knobs
	f.s = &fasthttp.Server{
		Handler:               f.handle,
		Name:                  "",
		NoDefaultServerHeader: true, // net/http sends none either
		Concurrency:           k.Concurrency,
		MaxIdleWorkerDuration: k.MaxIdleWorkerDuration,
		ReduceMemoryUsage:     k.ReduceMemoryUsage,
		IdleTimeout:           k.IdleTimeout,
		ReadTimeout:           k.ReadTimeout,
		WriteTimeout:          k.WriteTimeout,
		CloseOnShutdown:       true,
	}
	return f
}

func (f *fastHTTP) handle(ctx *fasthttp.RequestCtx) {
	path := ctx.Path()
	if app.RouteOf(path) == app.RoutePlaintext {
		f.app.CountPlaintext()
		ctx.Response.Header.SetContentTypeBytes(app.ContentTypePlain)
		ctx.Response.SetBodyRaw(app.HelloWorld)
		return
	}
	ex := f.app.Serve(path, ctx.URI().QueryString())
	ctx.SetStatusCode(ex.Status)
	ctx.Response.Header.SetContentTypeBytes(app.ContentTypeJSON)
	ctx.SetBody(ex.Body) // copies
	f.app.Release(ex)
}

func (f *fastHTTP) Serve(ln net.Listener) error { return f.s.Serve(ln) }

func (f *fastHTTP) Shutdown(ctx context.Context) error { return f.s.ShutdownWithContext(ctx) }
