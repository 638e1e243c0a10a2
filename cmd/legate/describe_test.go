package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/legateproxy/legate/diagnostics"
	"github.com/legateproxy/legate/internal/testenv"
	"github.com/legateproxy/legate/pipeline"
	"github.com/legateproxy/legate/provider/file"
)

// adminFor serves the examples' configuration from an in-process admin
// server, as `legate serve` would after its first publish.
func adminFor(t *testing.T, dir string) string {
	t.Helper()
	f := &serveFlags{httpPort: 8080, httpsPort: 8443, ingressClass: "legate.dev/ingress-controller",
		gatewayClass: "legate.dev/gateway-controller", ambassadorID: "default", listenAddress: "0.0.0.0"}
	reg := registry(f)
	in, err := file.LoadPaths(reg, file.Options{}, dir)
	if err != nil {
		t.Fatal(err)
	}
	out, err := (&pipeline.Pipeline{Registry: reg, Settings: f.settings()}).Run(in)
	if err != nil {
		t.Fatal(err)
	}
	s := diagnostics.New(diagnostics.Options{})
	s.Update(out, "v1")
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	return srv.URL
}

// TestDescribeAndExplain runs every describe and explain command offline
// (-f) and against an admin server; both must print the same.
func TestDescribeAndExplain(t *testing.T) {
	const examples = "../../examples"
	admin := adminFor(t, examples)
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"describe", "routes"}, []string{
			"ROUTE CONFIG http-8080", "VIRTUAL HOST echo.example.com", `segment prefix "/docs"  -> default/docs/80  Ingress/default/echo:spec.rules[0].http.paths[1]`,
			"ROUTE CONFIG gateway-default-edge-8088", "HTTPRoute/default/docs", "Mapping/default/echo"}},
		{[]string{"describe", "problems"}, []string{"No problems."}},
		{[]string{"describe", "clusters"}, []string{"default/echo/80", "127.0.0.1:9001", "emissary/default/echo/80"}},
		{[]string{"explain", "--host", "ECHO.example.com:8080", "--path", "/docs/x"}, []string{
			"Virtual host: echo.example.com (domain echo.example.com)", "0 ingress/default/echo/rules[0]/paths[1]: MATCH", "Result: -> default/docs/80"}},
		{[]string{"explain", "--host", "echo.example.com", "--path", "/docsx"}, []string{
			`0 ingress/default/echo/rules[0]/paths[1]: no, path is not "/docs" or below it`, "1 ingress/default/echo/rules[0]/paths[0]: MATCH", "Result: -> default/echo/80"}},
		{[]string{"explain", "--host", "nowhere.example.org", "--path", "/"}, []string{`Virtual host: none matches host "nowhere.example.org"`, "Result: 404 Not Found"}},
		{[]string{"explain", "--host", "gateway.example.com", "--path", "/docs", "--port", "8088", "-H", "x-a: b"}, []string{
			"Route configuration: gateway-default-edge-8088", "Result: -> default/docs/80"}},
	} {
		name := strings.Join(tc.args, " ")
		offline, err := run(t, append(tc.args, "-f", examples, "--log-level", "error")...)
		if err != nil {
			t.Fatalf("%s -f: %v\n%s", name, err, offline)
		}
		for _, w := range tc.want {
			if !strings.Contains(offline, w) {
				t.Errorf("%s -f lacks %q:\n%s", name, w, offline)
			}
		}
		online, err := run(t, append(tc.args, "--admin", admin)...)
		if err != nil {
			t.Fatalf("%s --admin: %v\n%s", name, err, online)
		}
		if online != offline {
			t.Errorf("%s: --admin and -f differ:\n%s\n---\n%s", name, online, offline)
		}
	}

	out, err := run(t, "explain", "--host", "echo.example.com", "--path", "/", "--admin", admin, "-o", "json")
	var ex diagnostics.Explanation
	if err != nil || json.Unmarshal([]byte(out), &ex) != nil || ex.Route != "ingress/default/echo/rules[0]/paths[0]" {
		t.Fatalf("explain -o json: %v\n%s", err, out)
	}
	for _, args := range [][]string{
		{"describe", "routes"}, // nowhere to read from
		{"describe", "routes", "-f", examples, "--admin", admin}, // both
		{"describe", "nonsense", "--admin", admin},
		{"explain", "--host", "x", "--path", "nope", "--admin", admin},
		{"describe", "routes", "--admin", "http://127.0.0.1:1"},
	} {
		if out, err := run(t, args...); err == nil {
			t.Errorf("%v succeeded:\n%s", args, out)
		}
	}
}

// TestServeAdmin runs `legate serve` with an admin server and reads what
// the loop published through it with `describe`.
func TestServeAdmin(t *testing.T) {
	port := testenv.FreePort(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cmd := newRootCommand()
	var logs bytes.Buffer
	cmd.SetOut(&logs)
	cmd.SetErr(&logs)
	cmd.SetArgs([]string{"serve", "--config-dir", "../../examples", "--xds-address", "127.0.0.1:0",
		"--health-address", "", "--metrics-address", "", "--admin-address", fmt.Sprintf("127.0.0.1:%d", port), "--log-level", "error"})
	done := make(chan error, 1)
	go func() { done <- cmd.ExecuteContext(ctx) }()
	admin := fmt.Sprintf("http://127.0.0.1:%d", port)
	deadline := time.Now().Add(20 * time.Second)
	for {
		var ov diagnostics.Overview
		resp, err := http.Get(admin + "/api/v1/overview")
		if err == nil {
			_ = json.NewDecoder(resp.Body).Decode(&ov)
			resp.Body.Close()
			if ov.Version != "" {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("admin server never showed a snapshot: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	out, err := run(t, "describe", "routes", "--admin", admin)
	if err != nil || !strings.Contains(out, "VIRTUAL HOST echo.example.com") {
		t.Fatalf("describe routes: %v\n%s", err, out)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("serve did not stop")
	}
}

func TestServeRefusesRemoteAdmin(t *testing.T) {
	out, err := run(t, "serve", "--config-dir", "../../examples", "--xds-address", "127.0.0.1:0",
		"--health-address", "", "--metrics-address", "", "--admin-address", "0.0.0.0:0", "--log-level", "error")
	if err == nil || !strings.Contains(err.Error(), "--admin-address") {
		t.Fatalf("serve with a remote admin address: %v\n%s", err, out)
	}
}
