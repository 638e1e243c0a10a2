package tests

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
)

const (
	chartDir    = ".."
	releaseName = "legate"
	releaseNS   = "legate-system"
	// gatewayClassAPI is what a cluster serving the Gateway API reports.
	gatewayClassAPI = "gateway.networking.k8s.io/v1/GatewayClass"
)

// rendered is one `helm install --dry-run` of the chart.
type rendered struct {
	// objects are the templates' objects, in Helm's install order.
	objects []*unstructured.Unstructured
	// crds are the CRDs Helm installs first (crds/ of the chart and of its
	// enabled subcharts).
	crds []*unstructured.Unstructured
}

func loadChart(t *testing.T) *chart.Chart {
	t.Helper()
	ch, err := loader.Load(chartDir)
	if err != nil {
		t.Fatalf("loading the chart: %v", err)
	}
	return ch
}

// render runs the Helm install action client-side, as `helm install
// --dry-run` and `helm template` do: values are merged, checked against
// values.schema.json and rendered. apiVersions are the extra API versions
// the pretend cluster serves.
func render(t *testing.T, vals map[string]any, apiVersions ...string) (*rendered, error) {
	t.Helper()
	ch := loadChart(t)
	inst := action.NewInstall(&action.Configuration{})
	inst.ClientOnly = true
	inst.DryRun = true
	inst.Replace = true
	inst.ReleaseName = releaseName
	inst.Namespace = releaseNS
	inst.KubeVersion = &chartutil.KubeVersion{Version: "v1.37.2", Major: "1", Minor: "37"}
	inst.APIVersions = apiVersions
	rel, err := inst.Run(ch, vals)
	if err != nil {
		return nil, err
	}
	out := &rendered{}
	if out.objects, err = decodeAll(rel.Manifest); err != nil {
		return nil, fmt.Errorf("decoding the rendered manifest: %w", err)
	}
	for _, f := range rel.Chart.CRDObjects() {
		objs, err := decodeAll(string(f.File.Data))
		if err != nil {
			return nil, fmt.Errorf("decoding %s: %w", f.Filename, err)
		}
		out.crds = append(out.crds, objs...)
	}
	return out, nil
}

func mustRender(t *testing.T, vals map[string]any, apiVersions ...string) *rendered {
	t.Helper()
	r, err := render(t, vals, apiVersions...)
	if err != nil {
		t.Fatalf("rendering the chart: %v", err)
	}
	return r
}

func decodeAll(manifest string) ([]*unstructured.Unstructured, error) {
	dec := utilyaml.NewYAMLOrJSONDecoder(strings.NewReader(manifest), 4096)
	var out []*unstructured.Unstructured
	for {
		var m map[string]any
		if err := dec.Decode(&m); err != nil {
			if errors.Is(err, io.EOF) {
				return out, nil
			}
			return nil, err
		}
		if len(m) == 0 {
			continue
		}
		out = append(out, &unstructured.Unstructured{Object: m})
	}
}

func (r *rendered) find(kind, name string) *unstructured.Unstructured {
	for _, o := range r.objects {
		if o.GetKind() == kind && (name == "" || o.GetName() == name) {
			return o
		}
	}
	return nil
}

func (r *rendered) kinds() []string {
	var out []string
	for _, o := range r.objects {
		out = append(out, o.GetKind()+"/"+o.GetName())
	}
	sort.Strings(out)
	return out
}

// nested reads a field by path, failing the test if it is missing.
func nested(t *testing.T, o *unstructured.Unstructured, path ...string) any {
	t.Helper()
	v, ok, err := unstructured.NestedFieldNoCopy(o.Object, path...)
	if err != nil || !ok {
		t.Fatalf("%s/%s: no field %s (%v)", o.GetKind(), o.GetName(), strings.Join(path, "."), err)
	}
	return v
}

func container(t *testing.T, r *rendered) map[string]any {
	t.Helper()
	dep := r.find("Deployment", "")
	if dep == nil {
		t.Fatalf("no Deployment rendered; got %v", r.kinds())
	}
	cs := nested(t, dep, "spec", "template", "spec", "containers").([]any)
	if len(cs) != 1 {
		t.Fatalf("want one container (Legate runs Envoy as its child), got %d", len(cs))
	}
	return cs[0].(map[string]any)
}

func containerArgs(t *testing.T, r *rendered) []string {
	t.Helper()
	var out []string
	for _, a := range container(t, r)["args"].([]any) {
		out = append(out, a.(string))
	}
	return out
}

func TestLint(t *testing.T) {
	for name, vals := range map[string]map[string]any{"defaults": nil, "custom": customValues()} {
		t.Run(name, func(t *testing.T) {
			lint := action.NewLint()
			lint.Namespace = releaseNS
			res := lint.Run([]string{chartDir}, vals)
			for _, err := range res.Errors {
				t.Errorf("lint error: %v", err)
			}
			for _, m := range res.Messages {
				// INFO is advice (an icon); warnings and errors are defects.
				if m.Severity > 1 {
					t.Errorf("lint: %s", m)
				}
			}
		})
	}
}

func TestTemplateDefaults(t *testing.T) {
	r := mustRender(t, nil)
	want := []string{
		"ClusterRole/legate-legate-system", "ClusterRoleBinding/legate-legate-system", "Deployment/legate",
		"IngressClass/legate", "PodDisruptionBudget/legate", "Role/legate-leader-election",
		"RoleBinding/legate-leader-election", "Service/legate", "Service/legate-metrics", "ServiceAccount/legate",
	}
	if got := r.kinds(); !slices.Equal(got, want) {
		t.Errorf("objects:\n got %v\nwant %v", got, want)
	}
	// The getambassador.io CRDs always come with the chart; the Gateway
	// API's only on request.
	var crdGroups []string
	for _, c := range r.crds {
		crdGroups = append(crdGroups, nested(t, c, "spec", "group").(string))
	}
	if !slices.Contains(crdGroups, "getambassador.io") || slices.Contains(crdGroups, "gateway.networking.k8s.io") {
		t.Errorf("CRD groups by default: %v", crdGroups)
	}

	c := container(t, r)
	sc := c["securityContext"].(map[string]any)
	if sc["readOnlyRootFilesystem"] != true || sc["allowPrivilegeEscalation"] != false ||
		fmt.Sprint(nested(t, &unstructured.Unstructured{Object: sc}, "capabilities", "drop")) != "[ALL]" {
		t.Errorf("container securityContext: %v", sc)
	}
	dep := r.find("Deployment", "")
	if nested(t, dep, "spec", "template", "spec", "securityContext", "runAsNonRoot") != true {
		t.Error("pod is not runAsNonRoot")
	}
	for probe, path := range map[string]string{"readinessProbe": "/readyz", "livenessProbe": "/healthz"} {
		p := &unstructured.Unstructured{Object: c[probe].(map[string]any)}
		if nested(t, p, "httpGet", "path") != path || nested(t, p, "httpGet", "port") != "health" {
			t.Errorf("%s: %v", probe, p.Object)
		}
	}
	// The health port must be the one legate listens on, on every address.
	args := containerArgs(t, r)
	for _, a := range []string{"--health-address=0.0.0.0:8081", "--metrics-address=0.0.0.0:8082", "--http-port=8080",
		"--https-port=8443", "--ingress-controller=legate.dev/ingress-controller", "--gateway-controller=legate.dev/gateway-controller", "--leader-election-namespace=legate-system"} {
		if !slices.Contains(args, a) {
			t.Errorf("args %v lack %s", args, a)
		}
	}
	if slices.ContainsFunc(args, func(a string) bool { return strings.HasPrefix(a, "--watch-namespaces") }) {
		t.Errorf("default args restrict namespaces: %v", args)
	}
	mounts := fmt.Sprint(c["volumeMounts"])
	if !strings.Contains(mounts, "mountPath:/tmp") {
		t.Errorf("no writable /tmp for Envoy's bootstrap: %s", mounts)
	}
	env := fmt.Sprint(c["env"])
	for _, want := range []string{"POD_NAME", "metadata.name", "POD_NAMESPACE", "metadata.namespace"} {
		if !strings.Contains(env, want) {
			t.Errorf("env lacks %s: %s", want, env)
		}
	}
	if fmt.Sprint(nested(t, dep, "spec", "replicas")) != "2" {
		t.Errorf("replicas: %v", nested(t, dep, "spec", "replicas"))
	}
	if _, ok, _ := unstructured.NestedSlice(dep.Object, "spec", "template", "spec", "affinity", "podAntiAffinity",
		"preferredDuringSchedulingIgnoredDuringExecution"); !ok {
		t.Error("no preferred pod anti-affinity")
	}

	svc := r.find("Service", "legate")
	if nested(t, svc, "spec", "type") != "LoadBalancer" {
		t.Errorf("service type: %v", nested(t, svc, "spec", "type"))
	}
	ports := fmt.Sprint(nested(t, svc, "spec", "ports"))
	for _, want := range []string{"port:80", "targetPort:http", "port:443", "targetPort:https"} {
		if !strings.Contains(ports, want) {
			t.Errorf("service ports %s lack %s", ports, want)
		}
	}
	cports := fmt.Sprint(c["ports"])
	for _, want := range []string{"containerPort:8080 name:http", "containerPort:8443 name:https"} {
		if !strings.Contains(cports, want) {
			t.Errorf("container ports %s lack %s", cports, want)
		}
	}
	if got := nested(t, r.find("IngressClass", "legate"), "spec", "controller"); got != "legate.dev/ingress-controller" {
		t.Errorf("IngressClass controller %v", got)
	}
}

// customValues changes every switch of the chart from its default.
func customValues() map[string]any {
	return map[string]any{
		"replicaCount":    3,
		"image":           map[string]any{"repository": "example.com/legate", "tag": "v9.9.9", "pullPolicy": "Always"},
		"logLevel":        "debug",
		"logFormat":       "text",
		"envoyLogLevel":   "info",
		"watchNamespaces": []any{"team-a", "team-b"},
		"ingress": map[string]any{
			"controllerName": "example.com/ingress", "className": "edge", "defaultClass": true,
			"statusAddresses": []any{"203.0.113.10", "lb.example.com"},
		},
		"gatewayAPI":          map[string]any{"installCRDs": true, "className": "edge", "controllerName": "example.com/gateway"},
		"emissary":            map[string]any{"ambassadorID": "edge"},
		"service":             map[string]any{"type": "NodePort", "externalTrafficPolicy": "Local", "annotations": map[string]any{"a": "b"}},
		"metrics":             map[string]any{"serviceMonitor": map[string]any{"enabled": true, "labels": map[string]any{"release": "prom"}}},
		"leaderElection":      map[string]any{"leaseName": "edge-status"},
		"podDisruptionBudget": map[string]any{"minAvailable": "", "maxUnavailable": 1},
		"podAntiAffinity":     map[string]any{"enabled": false},
		"extraArgs":           []any{"--node-cluster=edge"},
		"serviceAccount":      map[string]any{"name": "edge-proxy"},
		"priorityClassName":   "system-cluster-critical",
	}
}

func TestTemplateCustom(t *testing.T) {
	r := mustRender(t, customValues())
	args := containerArgs(t, r)
	for _, want := range []string{
		"--log-level=debug", "--log-format=text", "--envoy-log-level=info", "--watch-namespaces=team-a,team-b",
		"--ingress-controller=example.com/ingress", "--gateway-controller=example.com/gateway", "--status-address=203.0.113.10", "--status-address=lb.example.com",
		"--ambassador-id=edge", "--leader-election-id=edge-status", "--node-cluster=edge",
	} {
		if !slices.Contains(args, want) {
			t.Errorf("args %v lack %s", args, want)
		}
	}
	if img := container(t, r)["image"]; img != "example.com/legate:v9.9.9" {
		t.Errorf("image %v", img)
	}
	if gc := r.find("GatewayClass", "edge"); gc == nil {
		t.Errorf("no GatewayClass with installCRDs; got %v", r.kinds())
	} else if got := nested(t, gc, "spec", "controllerName"); got != "example.com/gateway" {
		t.Errorf("GatewayClass controllerName %v", got)
	}
	ic := r.find("IngressClass", "edge")
	if ic == nil || ic.GetAnnotations()["ingressclass.kubernetes.io/is-default-class"] != "true" {
		t.Errorf("IngressClass edge not the default: %v", ic)
	}
	if r.find("ServiceMonitor", "") == nil {
		t.Errorf("no ServiceMonitor; got %v", r.kinds())
	}
	pdb := r.find("PodDisruptionBudget", "")
	if _, has := nested(t, pdb, "spec").(map[string]any)["minAvailable"]; has || fmt.Sprint(nested(t, pdb, "spec", "maxUnavailable")) != "1" {
		t.Errorf("PDB spec %v", nested(t, pdb, "spec"))
	}
	dep := r.find("Deployment", "")
	if _, has, _ := unstructured.NestedMap(dep.Object, "spec", "template", "spec", "affinity"); has {
		t.Error("anti-affinity rendered although disabled")
	}
	if got := nested(t, dep, "spec", "template", "spec", "serviceAccountName"); got != "edge-proxy" {
		t.Errorf("serviceAccountName %v", got)
	}
	for _, kind := range []string{"ClusterRoleBinding", "RoleBinding"} {
		if s := fmt.Sprint(nested(t, r.find(kind, ""), "subjects")); !strings.Contains(s, "name:edge-proxy") {
			t.Errorf("%s subjects %s", kind, s)
		}
	}
	// Both CRD sets, the Gateway API's at the pinned bundle version.
	var gw int
	for _, c := range r.crds {
		if nested(t, c, "spec", "group") == "gateway.networking.k8s.io" {
			gw++
			if v := c.GetAnnotations()["gateway.networking.k8s.io/bundle-version"]; v != "v1.6.3" {
				t.Errorf("%s bundle version %q", c.GetName(), v)
			}
		}
	}
	if gw == 0 {
		t.Error("installCRDs did not bring the Gateway API CRDs")
	}
}

// The GatewayClass follows the cluster: rendered when the Gateway API is
// served, left out (instead of failing the install) when it is not.
func TestGatewayClassFollowsCluster(t *testing.T) {
	if r := mustRender(t, nil); r.find("GatewayClass", "") != nil {
		t.Error("GatewayClass rendered for a cluster without the Gateway API")
	}
	r := mustRender(t, nil, gatewayClassAPI)
	if r.find("GatewayClass", "legate") == nil {
		t.Errorf("no GatewayClass for a cluster serving the Gateway API; got %v", r.kinds())
	}
	if r := mustRender(t, map[string]any{"gatewayAPI": map[string]any{"createClass": false}}, gatewayClassAPI); r.find("GatewayClass", "") != nil {
		t.Error("GatewayClass rendered with createClass=false")
	}
}

func TestSchemaRejectsBadValues(t *testing.T) {
	for _, tc := range []struct {
		name string
		vals map[string]any
		want []string
	}{
		{"log level", map[string]any{"logLevel": "verbose"}, []string{"logLevel", "debug", "info", "warn", "error"}},
		{"port", map[string]any{"containerPorts": map[string]any{"http": 70000}}, []string{"/containerPorts/http", "65,535"}},
		{"typo", map[string]any{"replicas": 3}, []string{"replicas", "additional"}},
		{"both PDB bounds", map[string]any{"podDisruptionBudget": map[string]any{"maxUnavailable": 1}}, []string{"podDisruptionBudget"}},
		{"controller name", map[string]any{"ingress": map[string]any{"controllerName": "no-domain"}}, []string{"/ingress/controllerName", "does not match pattern"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := render(t, tc.vals)
			if err == nil {
				t.Fatalf("values %v accepted", tc.vals)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error does not mention %q:\n%v", w, err)
				}
			}
		})
	}
}

// TestReadmeValuesTable keeps the README's values table in step with
// values.yaml: every leaf key has a row, and every row is a key.
func TestReadmeValuesTable(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(chartDir, "values.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var vals map[string]any
	if err := yaml.Unmarshal(raw, &vals); err != nil {
		t.Fatal(err)
	}
	keys := map[string]bool{}
	var walk func(prefix string, m map[string]any)
	walk = func(prefix string, m map[string]any) {
		for k, v := range m {
			if sub, ok := v.(map[string]any); ok && len(sub) > 0 && !freeForm[prefix+k] {
				walk(prefix+k+".", sub)
				continue
			}
			keys[prefix+k] = true
		}
	}
	walk("", vals)

	readme, err := os.ReadFile(filepath.Join(chartDir, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	rows := map[string]bool{}
	for _, line := range bytes.Split(readme, []byte("\n")) {
		if k, ok := tableKey(string(line)); ok {
			rows[k] = true
		}
	}
	var missing, extra []string
	for k := range keys {
		if !rows[k] {
			missing = append(missing, k)
		}
	}
	for k := range rows {
		if !keys[k] {
			extra = append(extra, k)
		}
	}
	sort.Strings(missing)
	sort.Strings(extra)
	if len(missing) > 0 {
		t.Errorf("values.yaml keys without a README row: %v", missing)
	}
	if len(extra) > 0 {
		t.Errorf("README rows for keys not in values.yaml: %v", extra)
	}
}

// freeForm values are documented as a whole: their keys are Kubernetes
// fields, not the chart's.
var freeForm = map[string]bool{"resources": true, "podSecurityContext": true, "securityContext": true}

// tableKey returns the key of a values table row: "| `a.b` | ...".
func tableKey(line string) (string, bool) {
	if !strings.HasPrefix(line, "| `") {
		return "", false
	}
	rest := line[len("| `"):]
	end := strings.Index(rest, "`")
	if end < 0 {
		return "", false
	}
	return rest[:end], true
}
