package servers_test

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/valyala/fasthttp/fasthttputil"

	"github.com/poolbench/poolbench/servers"
	"github.com/poolbench/poolbench/servers/app"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// response is what must be identical across models and variants.
type response struct {
	Status        int
	ContentType   string
	ContentLength string
	Body          string
}

func (r response) String() string {
	return fmt.Sprintf("%d %s len=%s\n%s", r.Status, r.ContentType, r.ContentLength, r.Body)
}

// requests covers every branch of the app: success, defaults, missing ids,
// JSON escaping, and each error.
var requests = []struct{ name, target string }{
	{"plaintext", "/plaintext"},
	{"users", "/app/users?ids=17,42,133,256,404,999&fields=id,name,email,city"},
	{"default_fields", "/app/users?ids=1,2"},
	{"escaping", "/app/users?ids=150,256,3&fields=name,city"},
	{"all_missing", "/app/users?ids=0,1001,x&fields=id"},
	{"no_ids", "/app/users?fields=name"},
	{"too_many_ids", "/app/users?ids=1,2,3,4,5,6,7,8,9"},
	{"unknown_field", "/app/users?ids=1&fields=salary"},
	{"unknown_arg", "/app/users?ids=1&limit=3"},
	{"unknown_route", "/app/orders?ids=1"},
	{"root", "/"},
}

// get sends one request over an in-memory connection to a fresh server.
func get(t *testing.T, m servers.Model, v app.Variant, target string) response {
	t.Helper()
	ln := fasthttputil.NewInmemoryListener()
	srv := servers.Start(m, servers.Config{Handler: app.NewHandler(v)}, ln)
	defer func() {
		if err := srv.Stop(5 * time.Second); err != nil {
			t.Errorf("stopping %s: %v", m.Name, err)
		}
	}()
	c, err := ln.Dial()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: poolbench\r\n\r\n", target)
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("%s %s: reading response: %v", m.Name, target, err)
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading body: %v", m.Name, target, err)
	}
	return response{resp.StatusCode, resp.Header.Get("Content-Type"), resp.Header.Get("Content-Length"), string(body)}
}

// TestResponsesIdentical checks that every model and every variant answers
// every request with the same status, content type, length and body, and
// that these match the golden file.
func TestResponsesIdentical(t *testing.T) {
	t.Parallel()
	for _, rq := range requests {
		t.Run(rq.name, func(t *testing.T) {
			t.Parallel()
			want := get(t, servers.Models.All()[0], app.AllOn, rq.target)
			golden := filepath.Join("testdata", rq.name+".golden")
			if *update {
				if err := os.WriteFile(golden, []byte(want.String()), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			g, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test ./servers -update to create it)", err)
			}
			if want.String() != string(g) {
				t.Errorf("%s all-on: got\n%s\nwant (%s)\n%s", servers.Models.All()[0].Name, want, golden, g)
			}
			for _, m := range servers.Models.All() {
				for _, v := range app.Variants() {
					if got := get(t, m, v, rq.target); got != want {
						t.Errorf("model=%s/%s: got\n%s\nwant\n%s", m.Name, v, got, want)
					}
				}
			}
		})
	}
}

func TestLookupUnknownModel(t *testing.T) {
	t.Parallel()
	_, err := servers.Lookup("nginx")
	if err == nil || !strings.Contains(err.Error(), `unknown server model "nginx": want one of fasthttp, nethttp`) {
		t.Fatalf("Lookup(nginx) error = %v, want it to name the model and the choices", err)
	}
	if _, err := servers.ParseModels("fasthttp,bogus"); err == nil {
		t.Fatal("ParseModels(fasthttp,bogus) succeeded, want an error")
	}
}
