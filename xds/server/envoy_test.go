package server_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"

	"github.com/legateproxy/legate/internal/testenv"
	"github.com/legateproxy/legate/translators/ir"
	"github.com/legateproxy/legate/xds"
)

// envoyBinary finds Envoy (see testenv.Envoy).
func envoyBinary(t *testing.T) string { return testenv.Envoy(t) }

func freePort(t *testing.T) uint32 {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return uint32(l.Addr().(*net.TCPAddr).Port)
}

// httpBackend answers every request with its name.
func httpBackend(t *testing.T, name string) *net.TCPAddr {
	t.Helper()
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, name) }))
	t.Cleanup(s.Close)
	return s.Listener.Addr().(*net.TCPAddr)
}

// TestEnvoy feeds a real Envoy over an ADS stream, state of the world and
// delta: traffic reaches the backend the endpoints name, an endpoint-only
// change moves it without Envoy receiving listeners or clusters again, and
// Envoy rejects nothing.
func TestEnvoy(t *testing.T) {
	envoy := envoyBinary(t)
	for _, delta := range []bool{false, true} {
		t.Run(map[bool]string{false: "sotw", true: "delta"}[delta], func(t *testing.T) {
			ts := startServer(t)
			one, two := httpBackend(t, "one"), httpBackend(t, "two")
			listenPort := freePort(t)
			site := func(backend *net.TCPAddr) *xds.Resources {
				res, err := xds.Build(&ir.Config{
					Listeners: []*ir.Listener{{
						Name: "http", Address: "127.0.0.1", Port: listenPort, Protocol: ir.ProtocolHTTP,
						VirtualHosts: []*ir.VirtualHost{{
							Name: "any", Hostnames: []string{"*"},
							Routes: []*ir.Route{{
								Name:    "Ingress/default/web/0/0",
								Source:  ir.Source{Kind: "Ingress", Namespace: "default", Name: "web"},
								Match:   ir.Match{Path: ir.PathMatch{Type: ir.PathPrefix, Value: "/"}},
								Forward: &ir.ForwardAction{Backends: []ir.WeightedBackend{{Cluster: "web", Weight: 1}}},
							}},
						}},
					}},
					Clusters: []*ir.Cluster{{
						Name: "web", Kind: ir.ClusterEDS, Source: ir.Source{Kind: "Service", Namespace: "default", Name: "web"},
						Endpoints: []ir.Endpoint{ep(backend.IP.String(), uint32(backend.Port))},
					}},
				})
				if err != nil {
					t.Fatalf("xds.Build: %v", err)
				}
				return res
			}
			ts.publish(t, "", site(one))

			_, port, _ := net.SplitHostPort(ts.addr)
			xdsPort, _ := strconv.Atoi(port)
			adminPort := freePort(t)
			boot, err := xds.Bootstrap(xds.BootstrapOptions{
				NodeID: "envoy-under-test", XDSAddress: "127.0.0.1", XDSPort: uint32(xdsPort),
				AdminPort: adminPort, Delta: delta,
			})
			if err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			bootPath := filepath.Join(dir, "bootstrap.yaml")
			if err := os.WriteFile(bootPath, boot, 0o600); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			cmd := exec.CommandContext(ctx, envoy, "-c", bootPath, "--disable-hot-restart", "--log-level", "warn", "--concurrency", "1")
			logFile, err := os.Create(filepath.Join(dir, "envoy.log"))
			if err != nil {
				t.Fatal(err)
			}
			cmd.Stdout, cmd.Stderr = logFile, logFile
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() {
				cancel()
				_ = cmd.Wait()
				if t.Failed() {
					b, _ := os.ReadFile(logFile.Name())
					t.Logf("Envoy log:\n%s", b)
				}
			})

			url := fmt.Sprintf("http://127.0.0.1:%d/", listenPort)
			waitForBody(t, url, "one")
			stat := func(name string) int { return envoyStat(t, adminPort, name) }
			lds, cds := stat("listener_manager.lds.update_success"), stat("cluster_manager.cds.update_success")

			// Endpoint-only change.
			ts.publish(t, "", site(two))
			waitForBody(t, url, "two")
			time.Sleep(quiet)
			if now := stat("listener_manager.lds.update_success"); now != lds {
				t.Errorf("Envoy took %d more LDS updates for an endpoint-only change", now-lds)
			}
			if now := stat("cluster_manager.cds.update_success"); now != cds {
				t.Errorf("Envoy took %d more CDS updates for an endpoint-only change", now-cds)
			}
			if n := ts.NACKs(); len(n) != 0 {
				t.Errorf("Envoy rejected configuration: %+v", n)
			}
			waitFor(t, "Envoy to ACK the endpoints", func() bool {
				cs := ts.Clients()
				if len(cs) != 1 || cs[0].Delta != delta || cs[0].NodeID != "envoy-under-test" {
					return false
				}
				if delta {
					// Delta ACKs carry no version; the system version of the
					// response they answer is recorded instead.
					return cs[0].Acked[resource.EndpointType] != ""
				}
				return cs[0].Acked[resource.EndpointType] == findVersion(ts, "legate", resource.EndpointType)
			})
		})
	}
}

func waitForBody(t *testing.T, url, want string) {
	t.Helper()
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(20 * time.Second)
	var last string
	for time.Now().Before(deadline) {
		resp, err := client.Get(url)
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if string(b) == want {
				return
			}
			last = fmt.Sprintf("status %d body %q", resp.StatusCode, b)
		} else {
			last = err.Error()
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("%s never answered %q; last: %s", url, want, last)
}

// envoyStat reads one counter from Envoy's admin interface.
func envoyStat(t *testing.T, adminPort uint32, name string) int {
	t.Helper()
	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/stats?filter=^%s$", adminPort, name))
	if err != nil {
		t.Fatalf("reading Envoy stat %s: %v", name, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	line := strings.TrimSpace(string(b))
	v, err := strconv.Atoi(strings.TrimSpace(strings.TrimPrefix(line, name+":")))
	if err != nil {
		t.Fatalf("Envoy stat %s: unexpected %q", name, line)
	}
	return v
}
