// Package kube runs the real `legate serve` binary in Kubernetes mode
// against a real kube-apiserver and etcd (controller-runtime envtest), and
// watches what it serves with a real ADS client: routes and endpoints,
// start-up ordering, an API server restart, two replicas with leader-elected
// status writing, a real Envoy routing to a backend named in an
// EndpointSlice, and a few measurements.
//
// The API server binaries come from KUBEBUILDER_ASSETS (hack/build-kube.sh
// prints the folder). Without it the suite is skipped, loudly, except in CI,
// where it fails.
package kube

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

func TestKube(t *testing.T) {
	// Checked here rather than in BeforeSuite so that `go test` itself
	// reports the skip (--- SKIP), not a passing test.
	if os.Getenv("KUBEBUILDER_ASSETS") == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("KUBEBUILDER_ASSETS is not set: run hack/build-kube.sh and export the folder it prints")
		}
		t.Skip("SKIPPED: KUBEBUILDER_ASSETS is not set; export KUBEBUILDER_ASSETS=\"$(./hack/build-kube.sh)\" to run the Kubernetes suite")
	}
	RegisterFailHandler(Fail)
	RunSpecs(t, "Kubernetes provider")
}

// The suite's shared state, set up once: the API server, a client of it, a
// kubeconfig for legate processes, and the legate binary.
var (
	testEnv *envtest.Environment
	// k8s talks to the API server as the test; clientset is the same for
	// what controller-runtime's client does not offer (events).
	k8s       client.Client
	clientset *kubernetes.Clientset
	// kubeconfigPath is a kubeconfig file for legate processes: a user in
	// system:masters, so no RBAC is needed.
	kubeconfigPath string
	legateBin      string
	// apiServerCerts is the API server's certificate folder. It is ours, not
	// a temporary one envtest makes, so the serving certificate survives a
	// restart of the API server and kubeconfigs stay valid (see restart_test).
	apiServerCerts string
)

// ingressClassName is the IngressClass every test's Ingresses use; its
// controller is legate's default --ingress-controller.
const ingressClassName = "legate"

var _ = BeforeSuite(func() {
	assets := os.Getenv("KUBEBUILDER_ASSETS")
	By("building legate")
	binDir, err := os.MkdirTemp("", "legate-kube-bin-")
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(os.RemoveAll, binDir)
	legateBin = filepath.Join(binDir, "legate")
	_, file, _, _ := runtime.Caller(0)
	build := exec.Command("go", "build", "-o", legateBin, "./cmd/legate")
	build.Dir = filepath.Join(filepath.Dir(file), "..", "..")
	out, err := build.CombinedOutput()
	Expect(err).NotTo(HaveOccurred(), "go build ./cmd/legate:\n%s", out)

	By("starting kube-apiserver and etcd")
	apiServerCerts, err = os.MkdirTemp("", "legate-kube-apiserver-")
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(os.RemoveAll, apiServerCerts)
	gatewayAPI, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "sigs.k8s.io/gateway-api").Output()
	Expect(err).NotTo(HaveOccurred(), "locating the Gateway API module")
	testEnv = &envtest.Environment{
		BinaryAssetsDirectory: assets,
		// The CRDs of every registered translator: Gateway API (the
		// experimental channel, from the module: a superset of the standard
		// one, so that fields like rules[].retry survive the API server's
		// pruning and reach legate) and getambassador.io (generated).
		CRDDirectoryPaths: []string{
			filepath.Join(strings.TrimSpace(string(gatewayAPI)), "config", "crd", "experimental"),
			filepath.Join(filepath.Dir(file), "..", "..", "charts", "legate", "crds"),
		},
		ErrorIfCRDPathMissing:    true,
		ControlPlaneStartTimeout: time.Minute,
		ControlPlaneStopTimeout:  30 * time.Second,
	}
	apiServer := testEnv.ControlPlane.GetAPIServer()
	apiServer.CertDir = apiServerCerts
	// envtest's default /24 holds too few Services for the scale tests.
	apiServer.Configure().Set("service-cluster-ip-range", "10.0.0.0/16")
	// A stopping API server otherwise waits up to --request-timeout (60s)
	// for open watches (legate's) to end before it exits; with this it
	// drains short requests and gives the rest 2s, which keeps the restart
	// test short.
	apiServer.Configure().Set("shutdown-send-retry-after", "true")
	cfg, err := testEnv.Start()
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(func() {
		By("stopping kube-apiserver and etcd")
		Expect(testEnv.Stop()).To(Succeed())
	})
	// The many objects of the scale tests are created quickly.
	cfg = rest.CopyConfig(cfg)
	cfg.QPS, cfg.Burst = 500, 1000
	k8s, err = client.New(cfg, client.Options{})
	Expect(err).NotTo(HaveOccurred())
	clientset, err = kubernetes.NewForConfig(cfg)
	Expect(err).NotTo(HaveOccurred())

	user, err := testEnv.AddUser(envtest.User{Name: "legate", Groups: []string{"system:masters"}}, nil)
	Expect(err).NotTo(HaveOccurred())
	kc, err := user.KubeConfig()
	Expect(err).NotTo(HaveOccurred())
	kubeconfigPath = filepath.Join(binDir, "kubeconfig")
	Expect(os.WriteFile(kubeconfigPath, kc, 0o600)).To(Succeed())

	class := &networkingv1.IngressClass{
		ObjectMeta: metav1.ObjectMeta{Name: ingressClassName},
		Spec:       networkingv1.IngressClassSpec{Controller: "legate.dev/ingress-controller"},
	}
	Expect(k8s.Create(context.Background(), class)).To(Succeed())
})

// newNamespace creates a namespace for one test; legate processes of that
// test watch only it (--watch-namespaces), so tests do not see each other's
// objects. It is deleted when the test ends.
func newNamespace(ctx context.Context, prefix string) string {
	GinkgoHelper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: prefix + "-"}}
	Expect(k8s.Create(ctx, ns)).To(Succeed())
	DeferCleanup(func(ctx SpecContext) {
		_ = k8s.Delete(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns.Name}})
	})
	return ns.Name
}

// specTimeout bounds each spec, so that a hang fails that spec (and its
// cleanup stops its processes) instead of the whole test binary.
const specTimeout = 3 * time.Minute
