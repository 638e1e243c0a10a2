package tests

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"helm.sh/helm/v3/pkg/action"

	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// cluster is one real kube-apiserver and etcd (envtest) with both CRD sets
// installed, shared by the tests below.
type cluster struct {
	cfg    *rest.Config
	cs     *kubernetes.Clientset
	dyn    dynamic.Interface
	mapper meta.RESTMapper
}

func startCluster(t *testing.T) *cluster {
	t.Helper()
	if os.Getenv("KUBEBUILDER_ASSETS") == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("KUBEBUILDER_ASSETS is not set: run hack/build-kube.sh and export the folder it prints")
		}
		t.Skip("SKIPPED: KUBEBUILDER_ASSETS is not set; export KUBEBUILDER_ASSETS=\"$(./hack/build-kube.sh)\" (repository root) to run the API server tests")
	}
	env := &envtest.Environment{
		CRDDirectoryPaths:     []string{filepath.Join(chartDir, "crds"), filepath.Join(chartDir, "charts", "gateway-api-crds", "crds")},
		ErrorIfCRDPathMissing: true,
	}
	cfg, err := env.Start()
	if err != nil {
		t.Fatalf("starting the API server: %v", err)
	}
	t.Cleanup(func() {
		if err := env.Stop(); err != nil {
			t.Logf("stopping the API server: %v", err)
		}
	})
	c := &cluster{cfg: cfg}
	if c.cs, err = kubernetes.NewForConfig(cfg); err != nil {
		t.Fatal(err)
	}
	if c.dyn, err = dynamic.NewForConfig(cfg); err != nil {
		t.Fatal(err)
	}
	hc, err := rest.HTTPClientFor(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if c.mapper, err = apiutil.NewDynamicRESTMapper(cfg, hc); err != nil {
		t.Fatal(err)
	}
	return c
}

// apply server-side applies obj (dryRun: validated and admitted, not
// stored), as `kubectl apply --server-side` and Helm 4 do.
func (c *cluster) apply(ctx context.Context, obj *unstructured.Unstructured, dryRun bool) error {
	gvk := obj.GroupVersionKind()
	m, err := c.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if err != nil {
		return fmt.Errorf("%s %s: %w", gvk, obj.GetName(), err)
	}
	var ri dynamic.ResourceInterface = c.dyn.Resource(m.Resource)
	if m.Scope.Name() == meta.RESTScopeNameNamespace {
		ri = c.dyn.Resource(m.Resource).Namespace(obj.GetNamespace())
	}
	opts := metav1.ApplyOptions{FieldManager: "chart-test", Force: true}
	if dryRun {
		opts.DryRun = []string{metav1.DryRunAll}
	}
	if _, err := ri.Apply(ctx, obj.GetName(), obj, opts); err != nil {
		return fmt.Errorf("%s %s/%s: %w", gvk.Kind, obj.GetNamespace(), obj.GetName(), err)
	}
	return nil
}

func (c *cluster) createNamespace(t *testing.T, name string) {
	t.Helper()
	_, err := c.cs.CoreV1().Namespaces().Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatalf("namespace %s: %v", name, err)
	}
}

func TestCluster(t *testing.T) {
	c := startCluster(t)
	c.createNamespace(t, releaseNS)
	for _, ns := range []string{"team-a", "team-b"} {
		c.createNamespace(t, ns)
	}

	// Every object of both renderings is accepted by the real API server:
	// API versions, field names, RBAC rules (the API server refuses a role
	// granting more than its author holds, and checks verbs and groups).
	t.Run("DryRun", func(t *testing.T) {
		for name, r := range map[string]*rendered{
			"defaults": mustRender(t, nil, gatewayClassAPI),
			"custom":   mustRender(t, customValues(), gatewayClassAPI),
		} {
			t.Run(name, func(t *testing.T) {
				for _, obj := range append(slices.Clone(r.crds), r.objects...) {
					if obj.GroupVersionKind().Group == "monitoring.coreos.com" {
						// The Prometheus Operator's CRDs are not part of this
						// cluster; the ServiceMonitor is checked by rendering.
						continue
					}
					if err := c.apply(context.Background(), obj, true); err != nil {
						t.Errorf("server-side dry-run apply: %v", err)
					}
				}
			})
		}
	})

	// The chart installs and uninstalls with Helm itself: CRDs first, then
	// the templates, with the GatewayClass following the served API.
	t.Run("HelmInstall", func(t *testing.T) { helmInstall(t, c) })

	legate := buildLegate(t)
	t.Run("RBACSufficient", func(t *testing.T) {
		r := mustRender(t, rbacValues("legate-status"), gatewayClassAPI)
		// As installed: every namespace watched.
		res := runImpersonated(t, c, legate, r, "", r.objects, "rbac-ok", true)
		if !res.ok() {
			t.Fatalf("legate under the chart's ServiceAccount did not sync and write status: %s\nlog:\n%s", res, res.log)
		}
		if res.forbidden {
			t.Fatalf("forbidden in the log of a legate with the chart's permissions:\n%s", res.log)
		}
	})

	// Least privilege: with any one rule of the ClusterRole or the Role
	// removed, legate is refused something it needs, and says so.
	t.Run("RBACLeastPrivilege", func(t *testing.T) {
		base := mustRender(t, rbacValues("legate-status"), gatewayClassAPI)
		for _, kind := range []string{"ClusterRole", "Role"} {
			role := base.find(kind, "")
			rules := nested(t, role, "rules").([]any)
			for i := range rules {
				rule := rules[i].(map[string]any)
				name := fmt.Sprintf("%s-%v-%v", kind, rule["resources"], rule["verbs"])
				t.Run(name, func(t *testing.T) {
					t.Parallel()
					ns := fmt.Sprintf("lp-%s-%d", strings.ToLower(kind), i)
					// A Lease of its own: one left by another run would
					// hide a missing create right.
					r := mustRender(t, rbacValues("status-"+ns), gatewayClassAPI)
					res := runImpersonated(t, c, legate, r, "-"+ns, withoutRule(r.objects, kind, i), ns, false)
					if res.ok() && !res.forbidden {
						t.Fatalf("legate worked without the rule %v: the rule is not needed", rule)
					}
					// Refused exactly what the rule granted, not something
					// else (say, a binding the authorizer had not seen yet).
					var resources []string
					for _, r := range rule["resources"].([]any) {
						resources = append(resources, r.(string))
					}
					if !slices.ContainsFunc(resources, res.refused) {
						t.Fatalf("without the rule %v legate failed (%s) but was not refused %v:\n%s", rule, res, resources, res.log)
					}
				})
			}
		}
	})
}

// rbacValues render the chart as the RBAC runs install it.
func rbacValues(lease string) map[string]any {
	return map[string]any{
		"ingress":        map[string]any{"statusAddresses": []any{"203.0.113.7"}},
		"leaderElection": map[string]any{"leaseName": lease},
	}
}

// withoutRule copies objs with rule i of the named role kind removed.
func withoutRule(objs []*unstructured.Unstructured, kind string, i int) []*unstructured.Unstructured {
	var out []*unstructured.Unstructured
	for _, o := range objs {
		o = o.DeepCopy()
		if o.GetKind() == kind {
			rules, _, _ := unstructured.NestedSlice(o.Object, "rules")
			rules = append(rules[:i:i], rules[i+1:]...)
			_ = unstructured.SetNestedSlice(o.Object, rules, "rules")
		}
		out = append(out, o)
	}
	return out
}

func buildLegate(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "legate")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/legate")
	cmd.Dir = filepath.Join(chartDir, "..", "..")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building legate: %v\n%s", err, out)
	}
	return bin
}

// result is what a run of legate showed before it was stopped.
type result struct {
	ready, status, event, forbidden bool
	log                             string
	// forbiddenLines are the log lines with a forbidden error.
	forbiddenLines []string
}

// refused tells whether legate logged being refused access to resource.
func (r result) refused(resource string) bool {
	return slices.ContainsFunc(r.forbiddenLines, func(l string) bool {
		return strings.Contains(l, `resource \"`+resource+`\"`) || strings.Contains(l, `resource "`+resource+`"`)
	})
}

func (r result) ok() bool { return r.ready && r.status && r.event }

func (r result) String() string {
	return fmt.Sprintf("ready=%v status written=%v event=%v forbidden=%v", r.ready, r.status, r.event, r.forbidden)
}

// runImpersonated installs the RBAC objects among objs (names suffixed, so
// parallel runs do not share them) and, in ns, one Ingress of the chart's
// class whose backend Service is missing (so legate both writes status and
// emits a warning Event). Then it runs legate with the Deployment's
// arguments as the chart's ServiceAccount, watching every namespace
// (watchAll) or only ns (so parallel runs do not write each other's
// status). It stops legate once it synced, wrote the status and the Event,
// or logged a forbidden error, or after a timeout.
func runImpersonated(t *testing.T, c *cluster, legate string, r *rendered, suffix string, objs []*unstructured.Unstructured, ns string, watchAll bool) result {
	t.Helper()
	ctx := context.Background()
	c.createNamespace(t, ns)
	sa := ""
	for _, o := range objs {
		o = o.DeepCopy()
		switch o.GetKind() {
		case "ServiceAccount":
			o.SetName(o.GetName() + suffix)
			sa = o.GetName()
		case "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding":
			o.SetName(o.GetName() + suffix)
			if ref, ok, _ := unstructured.NestedString(o.Object, "roleRef", "name"); ok {
				_ = unstructured.SetNestedField(o.Object, ref+suffix, "roleRef", "name")
				subj, _, _ := unstructured.NestedSlice(o.Object, "subjects")
				for _, s := range subj {
					s.(map[string]any)["name"] = s.(map[string]any)["name"].(string) + suffix
				}
				_ = unstructured.SetNestedSlice(o.Object, subj, "subjects")
			}
		case "IngressClass", "GatewayClass":
		default:
			continue
		}
		if err := c.apply(ctx, o, false); err != nil {
			t.Fatalf("installing the chart's %s: %v", o.GetKind(), err)
		}
	}
	if sa == "" {
		t.Fatal("the chart rendered no ServiceAccount")
	}
	user := fmt.Sprintf("system:serviceaccount:%s:%s", releaseNS, sa)
	waitForRBAC(t, c, user, ns, objs)
	class := "legate"
	ing := &networkingv1.Ingress{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: ns},
		Spec: networkingv1.IngressSpec{
			IngressClassName: &class,
			DefaultBackend: &networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{
				Name: "missing", Port: networkingv1.ServiceBackendPort{Number: 80},
			}},
		},
	}
	if _, err := c.cs.NetworkingV1().Ingresses(ns).Create(ctx, ing, metav1.CreateOptions{}); err != nil {
		t.Fatalf("creating the Ingress: %v", err)
	}
	// A Gateway with an HTTPRoute, and an Emissary Mapping: their status is
	// written too, so every status right of the ClusterRole is used.
	for _, o := range statusObjects(ns) {
		if err := c.apply(ctx, o, false); err != nil {
			t.Fatalf("creating %s: %v", o.GetKind(), err)
		}
	}

	kubeconfig := writeImpersonatingKubeconfig(t, c.cfg, user)
	args := append(containerArgs(t, r),
		"--kubeconfig="+kubeconfig, "--log-format=json",
		"--xds-address=127.0.0.1:0", "--health-address=127.0.0.1:0", "--metrics-address=127.0.0.1:0",
		// A quick lease, so a run without Lease rights fails fast.
		"--leader-election-retry-period=200ms",
		// A controller name of the run's own: GatewayClasses are
		// cluster-wide, and a parallel run's legate (with other rights)
		// would otherwise write this run's class status for it.
		"--gateway-controller="+runController(ns))
	if !watchAll {
		args = append(args, "--watch-namespaces="+ns)
	}
	if servesFlag(t, legate, "--admin-address") {
		// Parallel runs must not share the admin server's fixed port.
		args = append(args, "--admin-address=127.0.0.1:0")
	}
	cmd := exec.Command(legate, append([]string{"serve"}, args...)...)
	cmd.Env = append(os.Environ(), "POD_NAMESPACE="+releaseNS, "POD_NAME="+ns)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout = io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting legate: %v", err)
	}
	var (
		mu        sync.Mutex
		logb      strings.Builder
		health    = make(chan string, 1)
		forbidden = make(chan struct{})
		once      sync.Once
		readDone  = make(chan struct{})
	)
	go func() {
		defer close(readDone)
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			mu.Lock()
			logb.WriteString(line + "\n")
			mu.Unlock()
			var rec map[string]any
			if json.Unmarshal([]byte(line), &rec) == nil && rec["msg"] == "health server listening" {
				health <- fmt.Sprint(rec["address"])
			}
			if strings.Contains(strings.ToLower(line), "forbidden") {
				once.Do(func() { close(forbidden) })
			}
		}
	}()

	var res result
	deadline := time.After(45 * time.Second)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	addr := ""
loop:
	for {
		select {
		case a := <-health:
			addr = a
		case <-forbidden:
			res.forbidden = true
			break loop
		case <-deadline:
			break loop
		case <-tick.C:
			res.ready = res.ready || (addr != "" && httpOK("http://"+addr+"/readyz"))
			res.status = res.status || (ingressStatusWritten(c, ns) && otherStatusWritten(c, ns))
			res.event = res.event || eventEmitted(c, ns)
			if res.ok() {
				// A moment more, for a late forbidden error.
				time.Sleep(500 * time.Millisecond)
				select {
				case <-forbidden:
					res.forbidden = true
				default:
				}
				break loop
			}
		}
	}
	_ = cmd.Process.Signal(os.Interrupt)
	done := make(chan error, 1)
	go func() { <-readDone; done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = cmd.Process.Kill()
		<-done
	}
	mu.Lock()
	res.log = logb.String()
	mu.Unlock()
	for _, l := range strings.Split(res.log, "\n") {
		if strings.Contains(strings.ToLower(l), "forbidden") {
			res.forbiddenLines = append(res.forbiddenLines, l)
		}
	}
	return res
}

func httpOK(url string) bool {
	resp, err := http.Get(url)
	if err != nil {
		return false
	}
	_ = resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

func ingressStatusWritten(c *cluster, ns string) bool {
	ing, err := c.cs.NetworkingV1().Ingresses(ns).Get(context.Background(), "web", metav1.GetOptions{})
	return err == nil && len(ing.Status.LoadBalancer.Ingress) == 1 && ing.Status.LoadBalancer.Ingress[0].IP == "203.0.113.7"
}

func eventEmitted(c *cluster, ns string) bool {
	evs, err := c.cs.CoreV1().Events(ns).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		return false
	}
	for _, e := range evs.Items {
		if e.InvolvedObject.Kind == "Ingress" && e.InvolvedObject.Name == "web" && e.Source.Component == "legate" {
			return true
		}
	}
	return false
}

// writeImpersonatingKubeconfig writes a kubeconfig with the API server's
// admin credentials that acts as user (the admin may impersonate): what
// legate can do with it is exactly what RBAC grants user. An empty user
// keeps the admin.
func writeImpersonatingKubeconfig(t *testing.T, cfg *rest.Config, user string) string {
	t.Helper()
	kc := clientcmdapi.NewConfig()
	kc.Clusters["envtest"] = &clientcmdapi.Cluster{Server: cfg.Host, CertificateAuthorityData: cfg.CAData}
	kc.AuthInfos["sa"] = &clientcmdapi.AuthInfo{
		ClientCertificateData: cfg.CertData, ClientKeyData: cfg.KeyData, Token: cfg.BearerToken,
	}
	if user != "" {
		kc.AuthInfos["sa"].Impersonate = user
		kc.AuthInfos["sa"].ImpersonateGroups = []string{"system:serviceaccounts", "system:serviceaccounts:" + releaseNS, "system:authenticated"}
	}
	kc.Contexts["sa"] = &clientcmdapi.Context{Cluster: "envtest", AuthInfo: "sa"}
	kc.CurrentContext = "sa"
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := clientcmd.WriteToFile(*kc, path); err != nil {
		t.Fatal(err)
	}
	return path
}

// waitForRBAC waits until the API server's authorizer allows user the first
// verb of every rule of the roles among objs: it learns of new roles and
// bindings through its own informers, a moment after they are created, and
// a run started before would be refused for the wrong reason.
func waitForRBAC(t *testing.T, c *cluster, user, ns string, objs []*unstructured.Unstructured) {
	t.Helper()
	var checks []authorizationv1.ResourceAttributes
	for _, o := range objs {
		if o.GetKind() != "ClusterRole" && o.GetKind() != "Role" {
			continue
		}
		rules, _, _ := unstructured.NestedSlice(o.Object, "rules")
		for _, r := range rules {
			rule := r.(map[string]any)
			res, sub, _ := strings.Cut(rule["resources"].([]any)[0].(string), "/")
			checks = append(checks, authorizationv1.ResourceAttributes{
				Namespace: map[bool]string{true: releaseNS, false: ns}[o.GetKind() == "Role"],
				Verb:      rule["verbs"].([]any)[0].(string), Group: rule["apiGroups"].([]any)[0].(string),
				Resource: res, Subresource: sub,
			})
			if names, ok := rule["resourceNames"].([]any); ok {
				checks[len(checks)-1].Name = names[0].(string)
			}
		}
	}
	deadline := time.Now().Add(20 * time.Second)
	for _, attrs := range checks {
		for {
			sar := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
				User: user, Groups: []string{"system:serviceaccounts", "system:serviceaccounts:" + releaseNS, "system:authenticated"},
				ResourceAttributes: &attrs,
			}}
			got, err := c.cs.AuthorizationV1().SubjectAccessReviews().Create(context.Background(), sar, metav1.CreateOptions{})
			if err == nil && got.Status.Allowed {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the chart's roles do not take effect for %s: %+v (%v)", user, attrs, err)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
}

// servesFlag tells whether `legate serve` has flag.
func servesFlag(t *testing.T, legate, flag string) bool {
	t.Helper()
	out, err := exec.Command(legate, "serve", "--help").CombinedOutput()
	if err != nil {
		t.Fatalf("legate serve --help: %v\n%s", err, out)
	}
	return strings.Contains(string(out), flag+" ")
}

func helmInstall(t *testing.T, c *cluster) {
	const ns = "helm-install"
	kubeconfig := writeImpersonatingKubeconfig(t, c.cfg, "")
	getter := genericclioptions.NewConfigFlags(false)
	getter.KubeConfig = &kubeconfig
	getter.Namespace = ptr(ns)
	cfg := &action.Configuration{}
	if err := cfg.Init(getter, ns, "secret", t.Logf); err != nil {
		t.Fatalf("helm configuration: %v", err)
	}
	c.createNamespace(t, ns)
	inst := action.NewInstall(cfg)
	inst.ReleaseName = "edge"
	inst.Namespace = ns
	inst.Timeout = time.Minute
	// Classes of their own: the RBAC runs own the default ones.
	vals := map[string]any{
		"gatewayAPI": map[string]any{"installCRDs": true, "className": "helm"},
		"ingress":    map[string]any{"className": "helm"},
	}
	rel, err := inst.Run(loadChart(t), vals)
	if err != nil {
		t.Fatalf("helm install: %v", err)
	}
	if rel.Info.Status != "deployed" {
		t.Fatalf("release status %s", rel.Info.Status)
	}
	ctx := context.Background()
	if _, err := c.cs.AppsV1().Deployments(ns).Get(ctx, "edge-legate", metav1.GetOptions{}); err != nil {
		t.Errorf("installed Deployment: %v", err)
	}
	gcRes := c.dyn.Resource(gatewayClassesGVR)
	if _, err := gcRes.Get(ctx, "helm", metav1.GetOptions{}); err != nil {
		t.Errorf("installed GatewayClass: %v", err)
	}

	up := action.NewUpgrade(cfg)
	up.Namespace = ns
	up.ReuseValues = true
	if _, err := up.Run("edge", loadChart(t), map[string]any{"replicaCount": 3}); err != nil {
		t.Fatalf("helm upgrade: %v", err)
	}
	dep, err := c.cs.AppsV1().Deployments(ns).Get(ctx, "edge-legate", metav1.GetOptions{})
	if err != nil || *dep.Spec.Replicas != 3 {
		t.Errorf("after upgrade: %v replicas, %v", dep.Spec.Replicas, err)
	}

	if _, err := action.NewUninstall(cfg).Run("edge"); err != nil {
		t.Fatalf("helm uninstall: %v", err)
	}
	if _, err := gcRes.Get(ctx, "helm", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("GatewayClass after uninstall: %v", err)
	}
	// CRDs stay, as the README says.
	if _, err := c.dyn.Resource(crdGVR).Get(ctx, "mappings.getambassador.io", metav1.GetOptions{}); err != nil {
		t.Errorf("Mapping CRD after uninstall: %v", err)
	}
}

var (
	gatewayClassesGVR = schema.GroupVersionResource{Group: "gateway.networking.k8s.io", Version: "v1", Resource: "gatewayclasses"}
	crdGVR            = schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}
)

func ptr[T any](v T) *T { return &v }

// runController is the Gateway API controller name of the run in ns.
func runController(ns string) string { return "legate.dev/run-" + ns }

// statusObjects are a GatewayClass, a Gateway of it with HTTP, TLS, TCP and
// UDP listeners and a route of each kind (to the missing Service), a
// BackendTLSPolicy, and a Mapping in ns.
func statusObjects(ns string) []*unstructured.Unstructured {
	obj := func(apiVersion, kind, name string, spec map[string]any) *unstructured.Unstructured {
		return &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": apiVersion, "kind": kind,
			"metadata": map[string]any{"name": name, "namespace": ns},
			"spec":     spec,
		}}
	}
	// A GatewayClass of the run's own, so that its status is written by
	// this run (the chart's class may have been written by another).
	class := obj("gateway.networking.k8s.io/v1", "GatewayClass", "legate-"+ns, map[string]any{
		"controllerName": runController(ns),
	})
	unstructured.RemoveNestedField(class.Object, "metadata", "namespace")
	return []*unstructured.Unstructured{
		class,
		obj("gateway.networking.k8s.io/v1", "Gateway", "edge", map[string]any{
			"gatewayClassName": "legate-" + ns,
			// Not the shared Ingress port, which Gateways cannot take.
			"listeners": []any{
				map[string]any{"name": "http", "protocol": "HTTP", "port": int64(9080)},
				map[string]any{"name": "tls", "protocol": "TLS", "port": int64(9443), "tls": map[string]any{"mode": "Passthrough"}},
				map[string]any{"name": "tcp", "protocol": "TCP", "port": int64(9000)},
				map[string]any{"name": "udp", "protocol": "UDP", "port": int64(9000)},
			},
		}),
		// One route of every other kind, so each route status right is used.
		obj("gateway.networking.k8s.io/v1", "GRPCRoute", "grpc", map[string]any{
			"parentRefs": []any{map[string]any{"name": "edge", "sectionName": "http"}},
			"rules":      []any{map[string]any{"backendRefs": []any{map[string]any{"name": "missing", "port": int64(80)}}}},
		}),
		obj("gateway.networking.k8s.io/v1", "TLSRoute", "tls", map[string]any{
			"parentRefs": []any{map[string]any{"name": "edge", "sectionName": "tls"}},
			"hostnames":  []any{"tls.example.com"},
			"rules":      []any{map[string]any{"backendRefs": []any{map[string]any{"name": "missing", "port": int64(443)}}}},
		}),
		obj("gateway.networking.k8s.io/v1", "TCPRoute", "tcp", map[string]any{
			"parentRefs": []any{map[string]any{"name": "edge", "sectionName": "tcp"}},
			"rules":      []any{map[string]any{"backendRefs": []any{map[string]any{"name": "missing", "port": int64(80)}}}},
		}),
		obj("gateway.networking.k8s.io/v1", "UDPRoute", "udp", map[string]any{
			"parentRefs": []any{map[string]any{"name": "edge", "sectionName": "udp"}},
			"rules":      []any{map[string]any{"backendRefs": []any{map[string]any{"name": "missing", "port": int64(53)}}}},
		}),
		obj("gateway.networking.k8s.io/v1", "HTTPRoute", "web", map[string]any{
			"parentRefs": []any{map[string]any{"name": "edge"}},
			"rules": []any{
				map[string]any{"backendRefs": []any{map[string]any{"name": "missing", "port": int64(80)}}},
				map[string]any{
					"matches":     []any{map[string]any{"path": map[string]any{"type": "PathPrefix", "value": "/tls"}}},
					"backendRefs": []any{map[string]any{"name": "tls", "port": int64(443)}},
				},
			},
		}),
		// A Service the route uses, with a BackendTLSPolicy whose CA
		// ConfigMap is missing: the policy's status (ancestors) is written
		// too, and ConfigMaps are read.
		obj("v1", "Service", "tls", map[string]any{
			"ports": []any{map[string]any{"name": "https", "port": int64(443)}},
		}),
		obj("gateway.networking.k8s.io/v1", "BackendTLSPolicy", "tls", map[string]any{
			"targetRefs": []any{map[string]any{"group": "", "kind": "Service", "name": "tls"}},
			"validation": map[string]any{
				"caCertificateRefs": []any{map[string]any{"group": "", "kind": "ConfigMap", "name": "missing-ca"}},
				"hostname":          "tls.example.com",
			},
		}),
		obj("getambassador.io/v3alpha1", "Mapping", "web", map[string]any{
			"hostname": "*", "prefix": "/", "service": "missing:80",
		}),
	}
}

// otherStatusWritten tells whether legate wrote the status of the Gateway,
// the HTTPRoute, the BackendTLSPolicy and the Mapping of statusObjects.
func otherStatusWritten(c *cluster, ns string) bool {
	get := func(group, version, resource, name string) map[string]any {
		u, err := c.dyn.Resource(schema.GroupVersionResource{Group: group, Version: version, Resource: resource}).
			Namespace(ns).Get(context.Background(), name, metav1.GetOptions{})
		if err != nil {
			return nil
		}
		st, _, _ := unstructured.NestedMap(u.Object, "status")
		return st
	}
	u, err := c.dyn.Resource(schema.GroupVersionResource{Group: "gateway.networking.k8s.io", Version: "v1", Resource: "gatewayclasses"}).
		Get(context.Background(), "legate-"+ns, metav1.GetOptions{})
	if err != nil {
		return false
	}
	classConds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
	gw := get("gateway.networking.k8s.io", "v1", "gateways", "edge")
	route := get("gateway.networking.k8s.io", "v1", "httproutes", "web")
	mapping := get("getambassador.io", "v3alpha1", "mappings", "web")
	policy := get("gateway.networking.k8s.io", "v1", "backendtlspolicies", "tls")
	conds, _, _ := unstructured.NestedSlice(gw, "conditions")
	parents, _, _ := unstructured.NestedSlice(route, "parents")
	state, _, _ := unstructured.NestedString(mapping, "state")
	ancestors, _, _ := unstructured.NestedSlice(policy, "ancestors")
	for _, r := range []string{"grpcroutes", "tlsroutes", "tcproutes", "udproutes"} {
		name := map[string]string{"grpcroutes": "grpc", "tlsroutes": "tls", "tcproutes": "tcp", "udproutes": "udp"}[r]
		if ps, _, _ := unstructured.NestedSlice(get("gateway.networking.k8s.io", "v1", r, name), "parents"); len(ps) == 0 {
			return false
		}
	}
	// The CRDs default conditions to Unknown ("Pending"): only True is ours.
	return conditionTrue(classConds, "Accepted") && conditionTrue(conds, "Accepted") && len(parents) > 0 && state != "" && len(ancestors) > 0
}

func conditionTrue(conds []any, typ string) bool {
	for _, c := range conds {
		m, _ := c.(map[string]any)
		if m["type"] == typ && m["status"] == "True" {
			return true
		}
	}
	return false
}
