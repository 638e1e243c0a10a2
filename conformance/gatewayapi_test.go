package conformance

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
	gatewayv1alpha2 "sigs.k8s.io/gateway-api/apis/v1alpha2"
	gatewayv1alpha3 "sigs.k8s.io/gateway-api/apis/v1alpha3"
	gatewayv1beta1 "sigs.k8s.io/gateway-api/apis/v1beta1"
	gatewayxv1alpha1 "sigs.k8s.io/gateway-api/apisx/v1alpha1"
	"sigs.k8s.io/gateway-api/conformance"
	confv1 "sigs.k8s.io/gateway-api/conformance/apis/v1"
	"sigs.k8s.io/gateway-api/conformance/utils/config"
	"sigs.k8s.io/gateway-api/conformance/utils/suite"
	"sigs.k8s.io/gateway-api/pkg/features"
	"sigs.k8s.io/yaml"
)

// gatewayClassName is the GatewayClass the suite runs with; its controller
// is legate's default --gateway-controller.
const gatewayClassName = "legate"

// TestGatewayAPI runs the upstream Gateway API conformance suite (v1.6.3)
// against Legate and Envoy on the local cluster, and writes its report to
// conformance/reports/<date>-legate-<version>.yaml (or
// $LEGATE_CONFORMANCE_REPORT). The features claimed are those Legate
// publishes in the GatewayClass status (supportedFeatures), unless
// $LEGATE_CONFORMANCE_FEATURES lists others. Knobs, all optional:
//
//	LEGATE_CONFORMANCE_PROFILES  comma-separated profiles (default: GATEWAY-HTTP, and GATEWAY-GRPC,
//	                             -TLS, -TCP, -UDP for each route kind the GatewayClass claims)
//	LEGATE_CONFORMANCE_FEATURES  comma-separated features instead of the GatewayClass's
//	LEGATE_CONFORMANCE_RUN       one test's ShortName (e.g. HTTPRouteSimpleSameNamespace)
//	LEGATE_CONFORMANCE_SKIP      comma-separated ShortNames to skip
//	LEGATE_CONFORMANCE_REPORT    report path ("" with RUN set: no report)
//	LEGATE_CONFORMANCE_DEBUG     non-empty: the suite's debug output
//	LEGATE_CONFORMANCE_KUBECONFIG  run against this cluster, where Legate already runs,
//	                             instead of starting the local cluster and Legate
func TestGatewayAPI(t *testing.T) {
	ctx := t.Context()
	started := time.Now()
	var e *env
	var cfg *rest.Config
	if kc := os.Getenv("LEGATE_CONFORMANCE_KUBECONFIG"); kc != "" {
		// A cluster where Legate already runs (make conformance-kind).
		var err error
		if cfg, err = clientcmd.BuildConfigFromFlags("", kc); err != nil {
			t.Fatalf("LEGATE_CONFORMANCE_KUBECONFIG: %v", err)
		}
	} else {
		e = startEnv(t, ctx, "10.244.0.0/16")
		cfg = e.cluster.Config
	}

	c, err := client.New(cfg, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, install := range []func(*runtime.Scheme) error{
		gatewayv1.Install, gatewayv1beta1.Install, gatewayv1alpha2.Install, gatewayv1alpha3.Install,
		gatewayxv1alpha1.Install, apiextensionsv1.AddToScheme,
	} {
		if err := install(c.Scheme()); err != nil {
			t.Fatal(err)
		}
	}
	clientset, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}

	gwc := &gatewayv1.GatewayClass{
		ObjectMeta: metav1.ObjectMeta{Name: gatewayClassName},
		Spec:       gatewayv1.GatewayClassSpec{ControllerName: "legate.dev/gateway-controller"},
	}
	// The Helm chart creates it on kind.
	if err := c.Create(ctx, gwc); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	claimed := waitClassAccepted(t, ctx, c, e)

	version := legateVersion()
	profiles := envList("LEGATE_CONFORMANCE_PROFILES", strings.Join(defaultProfiles(claimed), ","))
	opts := suite.ConformanceOptions{
		ConfigurableOptions: suite.ConfigurableOptions{
			GatewayClassName:     gatewayClassName,
			Debug:                os.Getenv("LEGATE_CONFORMANCE_DEBUG") != "",
			CleanupBaseResources: true,
			CleanupTestResources: true,
			TimeoutConfig:        config.DefaultTimeoutConfig(),
			SkipTests:            envList("LEGATE_CONFORMANCE_SKIP", ""),
			RunTest:              os.Getenv("LEGATE_CONFORMANCE_RUN"),
			Mode:                 "default",
			Implementation: confv1.Implementation{
				Organization: "legateproxy",
				Project:      "legate",
				URL:          "https://github.com/legateproxy/legate",
				Version:      version,
				Contact:      []string{"https://github.com/legateproxy/legate/issues"},
			},
			UsableNetworkAddresses: []gatewayv1.GatewaySpecAddress{
				{Type: ptrTo(gatewayv1.IPAddressType), Value: "127.100.250.1"},
			},
			UnusableNetworkAddresses: []gatewayv1.GatewaySpecAddress{
				{Type: ptrTo(gatewayv1.IPAddressType), Value: "198.51.100.1"},
			},
		},
		Client:     c,
		Clientset:  clientset,
		RestConfig: cfg,
		ManifestFS: []fs.FS{&conformance.Manifests},
	}
	for _, p := range profiles {
		opts.ConformanceProfiles = append(opts.ConformanceProfiles, suite.ConformanceProfileName(p))
	}
	for _, f := range envList("LEGATE_CONFORMANCE_FEATURES", "") {
		opts.SupportedFeatures = append(opts.SupportedFeatures, features.FeatureName(f))
	}

	report := os.Getenv("LEGATE_CONFORMANCE_REPORT")
	if _, set := os.LookupEnv("LEGATE_CONFORMANCE_REPORT"); !set {
		report = filepath.Join(repoRoot(), "conformance", "reports",
			fmt.Sprintf("%s-legate-%s.yaml", time.Now().UTC().Format("2006-01-02"), version))
	}
	opts.ReportOutputPath = report
	if report != "" {
		// Cleanups run last-registered first: this one runs after the
		// suite's, which writes the report.
		t.Cleanup(func() {
			t.Logf("wall time of the conformance run: %v", time.Since(started).Round(time.Second))
			summarize(t, report)
		})
	}
	if gone, log := e.legateExited(); gone {
		t.Fatalf("legate exited before the suite started:\n%s", log)
	}
	conformance.RunConformanceWithOptions(t, opts)
}

// defaultProfiles are GATEWAY-HTTP, and each other Gateway profile whose
// route kind the GatewayClass claims.
func defaultProfiles(claimed []string) []string {
	profiles := []string{string(suite.GatewayHTTPConformanceProfileName)}
	for _, p := range []struct {
		feature features.FeatureName
		profile suite.ConformanceProfileName
	}{
		{features.SupportGRPCRoute, suite.GatewayGRPCConformanceProfileName},
		{features.SupportTLSRoute, suite.GatewayTLSConformanceProfileName},
		{features.SupportTCPRoute, suite.GatewayTCPConformanceProfileName},
		{features.SupportUDPRoute, suite.GatewayUDPConformanceProfileName},
	} {
		if slices.Contains(claimed, string(p.feature)) {
			profiles = append(profiles, string(p.profile))
		}
	}
	return profiles
}

// waitClassAccepted waits for Legate to accept the GatewayClass and returns
// the features it claims.
func waitClassAccepted(t *testing.T, ctx context.Context, c client.Client, e *env) []string {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		var gwc gatewayv1.GatewayClass
		err := c.Get(ctx, client.ObjectKey{Name: gatewayClassName}, &gwc)
		if err == nil && meta.IsStatusConditionTrue(gwc.Status.Conditions, string(gatewayv1.GatewayClassConditionStatusAccepted)) {
			var names []string
			for _, f := range gwc.Status.SupportedFeatures {
				names = append(names, string(f.Name))
			}
			slices.Sort(names)
			t.Logf("GatewayClass %s accepted; supportedFeatures (%d): %s", gatewayClassName, len(names), strings.Join(names, ", "))
			return names
		}
		if gone, log := e.legateExited(); gone {
			t.Fatalf("legate exited:\n%s", log)
		}
		if time.Now().After(deadline) {
			t.Fatalf("GatewayClass %s not accepted after 2m (err %v, conditions %+v); see legate's log", gatewayClassName, err, gwc.Status.Conditions)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// summarize prints passed/skipped/failed per profile from the report.
func summarize(t *testing.T, path string) {
	b, err := os.ReadFile(path)
	if err != nil {
		t.Logf("no report at %s: %v", path, err)
		return
	}
	var r confv1.ConformanceReport
	if err := yaml.Unmarshal(b, &r); err != nil {
		t.Errorf("reading the report %s: %v", path, err)
		return
	}
	var sb strings.Builder
	fmt.Fprintf(&sb, "conformance report %s (Gateway API %s, %s channel)\n", path, r.GatewayAPIVersion, r.GatewayAPIChannel)
	for _, p := range r.ProfileReports {
		line := func(level string, s confv1.Status) {
			fmt.Fprintf(&sb, "  %-13s %-8s %-8s passed %3d  skipped %3d  failed %3d\n", p.Name, level, s.Result, s.Passed, s.Skipped, s.Failed)
			if len(s.FailedTests) > 0 {
				fmt.Fprintf(&sb, "      failed: %s\n", strings.Join(s.FailedTests, ", "))
			}
		}
		line("core", p.Core)
		if p.Extended != nil {
			line("extended", p.Extended.Status)
		}
	}
	// Printed as one block, which `make conformance` cuts out of the log.
	sb.WriteString("end of report\n")
	fmt.Print(sb.String())
}

func legateVersion() string {
	out, err := exec.Command("git", "-C", repoRoot(), "describe", "--tags", "--always", "--dirty").Output()
	if v := strings.TrimSpace(string(out)); err == nil && v != "" {
		return v
	}
	return "dev"
}

func envList(name, def string) []string {
	v, ok := os.LookupEnv(name)
	if !ok {
		v = def
	}
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

func ptrTo[T any](v T) *T { return &v }
