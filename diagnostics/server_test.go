package diagnostics

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/legateproxy/legate/internal/testenv"
	"github.com/legateproxy/legate/pipeline"
	"github.com/legateproxy/legate/provider/file"
	"github.com/legateproxy/legate/translators"
	"github.com/legateproxy/legate/xds"
	"github.com/legateproxy/legate/xds/server"
)

// tlsCase is the differential configuration plus TLS for shop.example.com
// and an Ingress with a missing backend Service (a problem).
func tlsCase(t *testing.T) (*pipeline.Output, []byte, []byte) {
	t.Helper()
	reg := registry()
	in, err := file.LoadPaths(reg, file.Options{}, "testdata/differential.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cert, key := testenv.SelfSigned(t, "shop.example.com")
	in.Secrets = append(in.Secrets, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "shop-tls", Namespace: "default"},
		Type:       corev1.SecretTypeTLS,
		Data:       map[string][]byte{"tls.crt": cert, "tls.key": key},
	})
	for _, ing := range in.Ingresses {
		if ing.Name == "shop" {
			ing.Spec.TLS = []networkingv1.IngressTLS{{Hosts: []string{"shop.example.com"}, SecretName: "shop-tls"}}
		}
	}
	prefix := networkingv1.PathTypePrefix
	in.Ingresses = append(in.Ingresses, &networkingv1.Ingress{
		ObjectMeta: metav1.ObjectMeta{Name: "broken", Namespace: "default"},
		Spec: networkingv1.IngressSpec{Rules: []networkingv1.IngressRule{{Host: "broken.example.com",
			IngressRuleValue: networkingv1.IngressRuleValue{HTTP: &networkingv1.HTTPIngressRuleValue{Paths: []networkingv1.HTTPIngressPath{{
				Path: "/", PathType: &prefix,
				Backend: networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{Name: "nope", Port: networkingv1.ServiceBackendPort{Number: 80}}},
			}}}},
		}}},
	})
	out, err := (&pipeline.Pipeline{Registry: reg, Settings: translators.DefaultSettings()}).Run(in)
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Resources.Secrets) == 0 {
		t.Fatal("the case has no Secret; the redaction test would prove nothing")
	}
	return out, cert, key
}

func get(t *testing.T, srv *httptest.Server, path string, want int) []byte {
	t.Helper()
	resp, err := http.Get(srv.URL + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != want {
		t.Fatalf("GET %s: %d, want %d: %s", path, resp.StatusCode, want, b)
	}
	return b
}

func getJSON(t *testing.T, srv *httptest.Server, path string, v any) {
	t.Helper()
	if err := json.Unmarshal(get(t, srv, path, http.StatusOK), v); err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
}

func TestAPI(t *testing.T) {
	out, cert, key := tlsCase(t)
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	s := New(Options{Now: func() time.Time { return now }, Clients: func() []server.ClientInfo {
		return []server.ClientInfo{{NodeID: "envoy-1", Group: "legate", StreamID: 7, Acked: map[string]string{"t": "v1"},
			NACKs: []server.NACK{{TypeURL: "t", Version: "v2", Error: "bad regex", Count: 2}}}}
	}})
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()

	// Before any snapshot: empty, not failing.
	var ov Overview
	getJSON(t, srv, "/api/v1/overview", &ov)
	if ov.Version != "" || len(ov.Envoys) != 1 {
		t.Fatalf("empty overview: %+v", ov)
	}
	get(t, srv, "/api/v1/explain?host=a&path=/", http.StatusInternalServerError)

	s.Update(out, "v1")
	getJSON(t, srv, "/api/v1/overview", &ov)
	if ov.Version != "v1" || ov.BuiltAt == nil || !ov.BuiltAt.Equal(now) || ov.Resources.Secrets != 1 {
		t.Fatalf("overview: %+v", ov)
	}
	if e := ov.Envoys[0]; e.NodeID != "envoy-1" || len(e.NACKs) != 1 || e.NACKs[0].Error != "bad regex" {
		t.Fatalf("envoys: %+v", ov.Envoys)
	}
	kinds := map[string]KindCount{}
	for _, k := range ov.Inputs {
		kinds[k.Kind] = k
	}
	if kinds["Mapping"].Valid != 11 || kinds["HTTPRoute"].Valid != 1 || kinds["Ingress"].Valid+kinds["Ingress"].Invalid != 2 {
		t.Fatalf("inputs by kind: %+v", ov.Inputs)
	}

	var problems []ProblemView
	getJSON(t, srv, "/api/v1/problems", &problems)
	found := false
	for _, p := range problems {
		if p.Object == "Ingress/default/broken" && p.Field != "" && p.Reason != "" && p.Message != "" {
			found = true
		}
	}
	if !found {
		t.Fatalf("problems lack the broken Ingress: %+v", problems)
	}

	var tables []RouteTable
	getJSON(t, srv, "/api/v1/routes", &tables)
	var shop *VHostView
	for _, tb := range tables {
		for i, vh := range tb.VirtualHosts {
			if tb.RouteConfig == "http-8080" && vh.Name == "shop.example.com" {
				shop = &tb.VirtualHosts[i]
			}
		}
	}
	if shop == nil || len(shop.Routes) < 5 {
		t.Fatalf("no shop virtual host in %+v", tables)
	}
	// Evaluation order: the Mapping with precedence first, the catch-all last.
	if first, last := shop.Routes[0], shop.Routes[len(shop.Routes)-1]; first.Source == nil || first.Source.Kind != "Mapping" ||
		last.Source == nil || last.Source.Kind != "Ingress" || !strings.Contains(last.Match, `"/"`) {
		t.Fatalf("shop routes out of order: first %+v, last %+v", first, last)
	}

	var cv ClustersView
	getJSON(t, srv, "/api/v1/clusters", &cv)
	if clusters := cv.Clusters; len(clusters) != len(out.IR.Clusters) || len(clusters[0].Endpoints) == 0 || clusters[0].EnvoyHosts != nil || cv.EnvoyAdmin != "" {
		t.Fatalf("clusters: %+v", cv)
	}

	var ex Explanation
	getJSON(t, srv, "/api/v1/explain?"+url.Values{
		"host": {"mapping.example.com:8080"}, "path": {"/m/search"}, "query": {"lang=en", "page=2"},
		"header": {"x-canary: true"},
	}.Encode(), &ex)
	if ex.Route != "mapping/default/m-search" || ex.Action.ClusterNames()[0] != "emissary/default/m-search/80" {
		t.Fatalf("explain: %+v", ex)
	}
	getJSON(t, srv, "/api/v1/explain?"+url.Values{"host": {"gw.example.com"}, "path": {"/old/x"}, "port": {"80"}}.Encode(), &ex)
	if ex.Action.Kind != ActionRedirect || ex.RouteConfig != "gateway-default-gw-80" {
		t.Fatalf("explain on port 80: %+v", ex)
	}
	getJSON(t, srv, "/api/v1/explain?"+url.Values{"host": {"shop.example.com"}, "path": {"/api/v2/x"}, "scheme": {"https"}}.Encode(), &ex)
	if ex.RouteConfig != "https-8443/shop.example.com" || ex.Action.ClusterNames()[0] != "default/api-v2/80" {
		t.Fatalf("explain https: %+v", ex)
	}
	get(t, srv, "/api/v1/explain?path=nope", http.StatusBadRequest)
	get(t, srv, "/api/v1/explain?host=shop.example.com&path=%2Fa%25zz", http.StatusBadRequest)
	get(t, srv, "/api/v1/explain?header=nocolon", http.StatusBadRequest)

	// Diff: a second snapshot with a cluster gone, an endpoint changed and
	// a new certificate (tlsCase makes a fresh one).
	var d Diff
	getJSON(t, srv, "/api/v1/diff", &d)
	if d.From != "" || d.To != "v1" || len(d.Changes) == 0 || d.Changes[0].Change != "added" {
		t.Fatalf("first diff: %+v", d)
	}
	out2, _, _ := tlsCase(t)
	out2.Resources.Clusters = out2.Resources.Clusters[1:]
	out2.Resources.Endpoints[2] = xds.NewLoadAssignment(&endpointv3.ClusterLoadAssignment{ClusterName: out2.Resources.Endpoints[2].GetName()})
	s.Update(out2, "v2")
	s.Update(out2, "v2") // an unchanged republish keeps the diff
	getJSON(t, srv, "/api/v1/diff", &d)
	want := []Change{
		{Type: "cluster", Name: out.Resources.Clusters[0].GetName(), Change: "removed"},
		{Type: "endpoint", Name: out.Resources.Endpoints[2].GetName(), Change: "changed"},
		{Type: "secret", Name: "default/shop-tls", Change: "changed"},
	}
	if d.From != "v1" || d.To != "v2" || !slices.Equal(d.Changes, want) {
		t.Fatalf("diff: %+v, want %+v", d, want)
	}

	// No response, JSON or HTML, carries Secret material.
	secrets := [][]byte{cert, key, []byte(base64.StdEncoding.EncodeToString(key)), []byte("PRIVATE KEY"), []byte("BEGIN CERTIFICATE")}
	for _, p := range []string{"/api/v1/overview", "/api/v1/routes", "/api/v1/problems", "/api/v1/clusters", "/api/v1/diff",
		"/api/v1/explain?host=shop.example.com&scheme=https", "/", "/routes", "/problems", "/clusters", "/diff", "/explain?host=shop.example.com"} {
		body := get(t, srv, p, http.StatusOK)
		for _, sec := range secrets {
			if strings.Contains(string(body), string(sec[:min(len(sec), 40)])) {
				t.Errorf("%s shows Secret material %.20q", p, sec)
			}
		}
	}
}

func TestPages(t *testing.T) {
	out, _, _ := tlsCase(t)
	s := New(Options{})
	s.Update(out, "v1")
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()
	for path, want := range map[string][]string{
		"/":         {"Snapshot <code>v1</code>", "<td>Mapping</td>", `href="/explain"`},
		"/routes":   {"http-8080", "mapping/default/m-search", "docs.display_name: Search API", "docs.url: https://docs.example.com/search", "gateway-default-gw-80", "httproute/default/gw-routes/rules[0]/matches[0]"},
		"/problems": {"Ingress/default/broken"},
		"/clusters": {"default/api/80", "10.0.0.1:8080 ready"},
		"/diff":     {"listener", "added"},
		"/explain":  {`<form method="get" action="/explain">`},
		"/explain?host=mapping.example.com&path=%2Fm%2Fitems%2F12&headers=x-canary%3A+true": {`<code id="route">mapping/default/m-items</code>`, "emissary/default/m-items/80"},
		"/explain?host=mapping.example.com&path=%2Fm%2Fx&headers=x-canary%3A+true":          {"mapping/default/m-canary", "did not match", "does not match regex"},
	} {
		body := string(get(t, srv, path, http.StatusOK))
		for _, w := range want {
			if !strings.Contains(body, w) {
				t.Errorf("%s lacks %q:\n%s", path, w, body)
			}
		}
	}
	get(t, srv, "/debug/pprof/", http.StatusNotFound)

	reg := prometheus.NewRegistry()
	pipeline.NewMetrics(reg)
	withMetrics := httptest.NewServer(New(Options{Metrics: reg}).Handler())
	defer withMetrics.Close()
	var ms []MetricView
	getJSON(t, withMetrics, "/api/v1/metrics", &ms)
	if len(ms) == 0 || ms[0].Help == "" || ms[0].Type == "" {
		t.Fatalf("metrics: %+v", ms)
	}
	if body := string(get(t, withMetrics, "/metrics-help", http.StatusOK)); !strings.Contains(body, "<code>"+ms[0].Name+"</code>") {
		t.Errorf("metrics page lacks %s:\n%s", ms[0].Name, body)
	}
	withPprof := httptest.NewServer(New(Options{Pprof: true}).Handler())
	defer withPprof.Close()
	get(t, withPprof, "/debug/pprof/", http.StatusOK)
}

func TestListenRefusesRemoteAddresses(t *testing.T) {
	for _, addr := range []string{"0.0.0.0:0", ":0", "[::]:0"} {
		lis, err := Listen(addr, false)
		if err == nil {
			lis.Close()
			t.Errorf("Listen(%q) without allowRemote bound", addr)
		} else if !errors.Is(err, ErrNotLoopback) {
			t.Errorf("Listen(%q): %v, want ErrNotLoopback", addr, err)
		}
	}
	lis, err := Listen("127.0.0.1:0", false)
	if err != nil {
		t.Fatal(err)
	}
	lis.Close()
	lis, err = Listen("127.0.0.1:0", true)
	if err != nil {
		t.Fatal(err)
	}
	lis.Close()
}

func TestServeStopsWithContext(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- New(Options{}).Serve(ctx, lis) }()
	resp, err := http.Get("http://" + lis.Addr().String() + "/api/v1/overview")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return after cancel")
	}
}
