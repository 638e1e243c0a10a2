package xds

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
)

// editClusterIn replaces r's cluster named name with a copy that edit
// changed.
func editClusterIn(t *testing.T, r *Resources, name string, edit func(*clusterv3.Cluster)) {
	t.Helper()
	for i, c := range r.Clusters {
		if c.GetName() == name {
			editCluster(r, i, edit)
			return
		}
	}
	t.Fatalf("no cluster %q", name)
}

// TestPolicyChecksMatchEnvoy breaks the policies golden case in ways that
// protoc-gen-validate does not see, and expects both Validate and Envoy
// itself (--mode validate) to refuse each: the deep checks stand for real
// rejections, not guesses.
func TestPolicyChecksMatchEnvoy(t *testing.T) {
	envoy := envoyBinary(t)
	dir := t.TempDir()
	cases := []struct {
		name      string
		mutate    func(*testing.T, *Resources)
		want      string // in Validate's error
		wantEnvoy string // in Envoy's output
	}{
		{
			name: "gRPC health check on an HTTP1 cluster",
			mutate: func(t *testing.T, r *Resources) {
				editClusterIn(t, r, "grpc", func(c *clusterv3.Cluster) { c.TypedExtensionProtocolOptions = nil })
			},
			want:      "a gRPC health check needs the cluster to speak HTTP/2",
			wantEnvoy: "HTTP/2",
		},
		{
			name: "expected status range out of bounds",
			mutate: func(t *testing.T, r *Resources) {
				editClusterIn(t, r, "sticky", func(c *clusterv3.Cluster) {
					hc := c.HealthChecks[0].GetHttpHealthCheck()
					hc.ExpectedStatuses = append(hc.ExpectedStatuses, &typev3.Int64Range{Start: 500, End: 700})
				})
			},
			want:      "status range [500, 700) is not a non-empty range within [100, 600)",
			wantEnvoy: "Invalid http expected status range",
		},
		{
			name: "several unnamed health checks",
			mutate: func(t *testing.T, r *Resources) {
				editClusterIn(t, r, "sticky", func(c *clusterv3.Cluster) {
					for _, hc := range c.HealthChecks {
						hc.Name = ""
					}
				})
			},
			want:      "several health checks need unique, non-empty names",
			wantEnvoy: "must have a name",
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res := buildCase(t, "policies")
			c.mutate(t, res)
			err := Validate(res)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Validate: want an error with %q, got %v", c.want, err)
			}
			bs, err := validationBootstrap(res)
			if err != nil {
				t.Fatal(err)
			}
			data, err := MarshalYAML(bs)
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(dir, strings.ReplaceAll(c.name, " ", "-")+".yaml")
			if err := os.WriteFile(path, data, 0o600); err != nil {
				t.Fatal(err)
			}
			out, err := runEnvoyValidate(envoy, path)
			if err == nil {
				t.Fatalf("envoy accepted it:\n%s", out)
			}
			if !strings.Contains(string(out), c.wantEnvoy) {
				t.Fatalf("envoy refused it, but not with %q:\n%s", c.wantEnvoy, out)
			}
		})
	}
}
