package main

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestHealthcheck(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/healthz" {
			http.Error(w, "down", http.StatusServiceUnavailable)
		}
	}))
	defer srv.Close()
	addr := strings.TrimPrefix(srv.URL, "http://")
	env := func(k string) string {
		if k == "RELAY_HTTP_ADDR" {
			return addr
		}
		return ""
	}
	hc := func(args ...string) error {
		return run(context.Background(), append([]string{"healthcheck"}, args...), env, io.Discard, io.Discard)
	}
	if err := hc(); err != nil {
		t.Errorf("healthcheck of RELAY_HTTP_ADDR = %v, want nil", err)
	}
	if err := hc("--url", srv.URL+"/healthz"); err != nil {
		t.Errorf("healthcheck --url = %v, want nil", err)
	}
	if err := hc("--url", srv.URL+"/state"); err == nil || !strings.Contains(err.Error(), "503") {
		t.Errorf("healthcheck of a 503 = %v, want an error with the status", err)
	}
}
