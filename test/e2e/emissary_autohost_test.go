package e2e

import (
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"testing"
	"time"
)

// TestEnvoyEmissaryAutoHostRewrite: a Mapping to an external service by
// DNS name with auto_host_rewrite reaches it with that name as its Host
// header; without it the client's Host arrives.
func TestEnvoyEmissaryAutoHostRewrite(t *testing.T) {
	// All addresses: "localhost" may resolve to ::1 or 127.0.0.1.
	lis, err := net.Listen("tcp", ":0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "host=%s", r.Host)
	}), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(func() { _ = srv.Close() })
	port := lis.Addr().(*net.TCPAddr).Port

	dir := t.TempDir()
	// An ExternalName Service gives a DNS cluster whose name resolves
	// here ("localhost"), as a real external name would.
	writeFile(t, filepath.Join(dir, "mappings.yaml"), fmt.Sprintf(`apiVersion: v1
kind: Service
metadata: {name: ext, namespace: default}
spec: {type: ExternalName, externalName: localhost, ports: [{name: http, port: %[1]d}]}
---
apiVersion: getambassador.io/v3alpha1
kind: Mapping
metadata: {name: auto, namespace: default}
spec: {hostname: "*", prefix: /auto/, service: "ext:%[1]d", auto_host_rewrite: true}
---
apiVersion: getambassador.io/v3alpha1
kind: Mapping
metadata: {name: plain, namespace: default}
spec: {hostname: "*", prefix: /plain/, service: "ext:%[1]d"}
`, port))
	l := startLegate(t, dir)
	client := &http.Client{}
	eventually(t, client, l.httpPort, "client.example.com", "/auto/x", "host=localhost", 30*time.Second)
	eventually(t, client, l.httpPort, "client.example.com", "/plain/x", "host=client.example.com", 5*time.Second)
}
