package conformance

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/legateproxy/legate/conformance/localcluster"
)

// The acceptance suites (Ingress and Emissary) share one local cluster and
// one Legate, started by TestAcceptance before the specs run.
var acc struct {
	env *env
	k8s client.Client
}

// TestAcceptance runs Legate's own Ingress and Emissary acceptance specs
// (ingress_test.go, emissary_test.go) on the local cluster, with real
// requests through Envoy to echo-basic pods. Pick one suite with
// -ginkgo.label-filter=ingress or =emissary.
//
// It is the package's only Ginkgo entry point, and must stay so: RunSpecs
// runs every spec registered in the package, and Ginkgo refuses to run a
// second time in one process. A new acceptance suite is a new top-level
// Describe with a Label of its own, not a new RunSpecs.
func TestAcceptance(t *testing.T) {
	// A pod range of its own, so that it never meets TestGatewayAPI's.
	acc.env = startEnv(t, t.Context(), "10.245.0.0/16")
	c, err := client.New(acc.env.cluster.Config, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	acc.k8s = c
	RegisterFailHandler(Fail)
	suite, reporter := GinkgoConfiguration()
	// make conformance writes the output to a file and greps it: no
	// colour codes there.
	if fi, err := os.Stdout.Stat(); err == nil && fi.Mode()&os.ModeCharDevice == 0 {
		reporter.NoColor = true
	}
	RunSpecs(t, "Legate acceptance", suite, reporter)
}

// Where Envoy's shared listeners are reached from the host.
var (
	ingressHTTP  = net.JoinHostPort(ingressAddress, fmt.Sprint(ingressHTTPPort))
	ingressHTTPS = net.JoinHostPort(ingressAddress, fmt.Sprint(ingressHTTPSPort))
)

// How long Legate may take to serve what was just applied: the first time
// includes starting the pods and their EndpointSlices.
const (
	firstConvergence = 90 * time.Second
	convergence      = 20 * time.Second
	poll             = 200 * time.Millisecond
)

// echoed is what echo-basic answers: the request as it reached the pod,
// and which pod it was.
type echoed struct {
	Path      string              `json:"path"`
	Host      string              `json:"host"`
	Method    string              `json:"method"`
	Headers   map[string][]string `json:"headers"`
	Namespace string              `json:"namespace"`
	Pod       string              `json:"pod"`
}

// reply is one response through Envoy; echo is set when the body is
// echo-basic's.
type reply struct {
	status int
	header http.Header
	body   string
	echo   *echoed
	tls    *tls.ConnectionState
}

// backend is the Deployment a reply came from (echo-basic's pod name less
// the ReplicaSet and pod suffixes), or "" when no echo-basic answered.
func (r *reply) backend() string {
	if r == nil || r.echo == nil {
		return ""
	}
	parts := strings.Split(r.echo.Pod, "-")
	if len(parts) < 3 {
		return r.echo.Pod
	}
	return strings.Join(parts[:len(parts)-2], "-")
}

func (r *reply) String() string {
	if r == nil {
		return "<no reply>"
	}
	if r.echo != nil {
		return fmt.Sprintf("%d from pod %s/%s (path %q, host %q)", r.status, r.echo.Namespace, r.echo.Pod, r.echo.Path, r.echo.Host)
	}
	b := r.body
	if len(b) > 200 {
		b = b[:200] + "..."
	}
	return fmt.Sprintf("%d %q", r.status, b)
}

// header returns the first value of an echoed request header.
func (e *echoed) header(name string) string {
	if e == nil {
		return ""
	}
	for k, v := range e.Headers {
		if strings.EqualFold(k, name) && len(v) > 0 {
			return v[0]
		}
	}
	return ""
}

// fixedDialer dials addr whatever the URL names, so that the URL's host is
// only the Host header (and the SNI).
func fixedDialer(addr string) func(ctx context.Context, network, _ string) (net.Conn, error) {
	d := &net.Dialer{Timeout: 5 * time.Second}
	return func(ctx context.Context, network, _ string) (net.Conn, error) {
		return d.DialContext(ctx, network, addr)
	}
}

// httpClient sends cleartext requests to Envoy's shared HTTP listener and
// returns redirects instead of following them.
var httpClient = &http.Client{
	Transport:     &http.Transport{DialContext: fixedDialer(ingressHTTP), MaxIdleConnsPerHost: 4},
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	Timeout:       10 * time.Second,
}

// httpsClient sends requests to Envoy's shared HTTPS listener, trusting
// only roots; the server name checked is the URL's host, also sent as SNI.
func httpsClient(roots *x509.CertPool) *http.Client {
	return &http.Client{
		Transport: &http.Transport{
			DialContext:       fixedDialer(ingressHTTPS),
			TLSClientConfig:   &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12},
			DisableKeepAlives: true,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Timeout:       10 * time.Second,
	}
}

// send makes one request; headers are "Name: value" strings (a "Host" entry
// is ignored: the URL's host is the Host header).
func send(c *http.Client, method, url string, headers ...string) (*reply, error) {
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		return nil, err
	}
	for _, h := range headers {
		k, v, _ := strings.Cut(h, ":")
		req.Header.Add(strings.TrimSpace(k), strings.TrimSpace(v))
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("reading the body of %s %s: %w", method, url, err)
	}
	r := &reply{status: resp.StatusCode, header: resp.Header, body: string(body), tls: resp.TLS}
	var e echoed
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") && json.Unmarshal(body, &e) == nil && e.Pod != "" {
		r.echo = &e
	}
	return r, nil
}

// get is a cleartext GET through Envoy's shared HTTP listener.
func get(host, path string, headers ...string) (*reply, error) {
	return send(httpClient, http.MethodGet, "http://"+host+path, headers...)
}

// reach waits until a GET of host+path is answered by the Deployment want
// (in namespace ns), and returns that reply.
func reach(ns, want, host, path string, within time.Duration, headers ...string) *reply {
	GinkgoHelper()
	var last *reply
	Eventually(func(g Gomega) {
		r, err := get(host, path, headers...)
		g.Expect(err).NotTo(HaveOccurred())
		last = r
		g.Expect(r.status).To(Equal(http.StatusOK), "reply %v", r)
		g.Expect(r.backend()).To(Equal(want), "reply %v", r)
		g.Expect(r.echo.Namespace).To(Equal(ns))
	}).WithTimeout(within).WithPolling(poll).Should(Succeed(), "GET http://%s%s should reach %s/%s (legate's log: %s)", host, path, ns, want, acc.env.logPath)
	return last
}

// status waits until a GET of host+path answers code, and returns that
// reply.
func status(code int, host, path string, within time.Duration, headers ...string) *reply {
	GinkgoHelper()
	var last *reply
	Eventually(func(g Gomega) {
		r, err := get(host, path, headers...)
		g.Expect(err).NotTo(HaveOccurred())
		last = r
		g.Expect(r.status).To(Equal(code), "reply %v", r)
	}).WithTimeout(within).WithPolling(poll).Should(Succeed(), "GET http://%s%s should answer %d", host, path, code)
	return last
}

// manifests reads a multi-document YAML file of testdata/acceptance.
func manifests(name string) []*unstructured.Unstructured {
	GinkgoHelper()
	b, err := os.ReadFile(filepath.Join("testdata", "acceptance", name))
	Expect(err).NotTo(HaveOccurred())
	var out []*unstructured.Unstructured
	for doc := range strings.SplitSeq(string(b), "\n---\n") {
		var m map[string]any
		Expect(yaml.Unmarshal([]byte(doc), &m)).To(Succeed(), "a document of %s", name)
		if len(m) == 0 {
			continue
		}
		out = append(out, &unstructured.Unstructured{Object: m})
	}
	return out
}

// create creates objects in order, failing on any error but "exists"
// (cluster-scoped objects such as IngressClasses outlive a namespace).
func create(objs ...client.Object) {
	GinkgoHelper()
	for _, o := range objs {
		err := acc.k8s.Create(context.Background(), o)
		if apierrors.IsAlreadyExists(err) && o.GetNamespace() == "" {
			continue
		}
		Expect(err).NotTo(HaveOccurred(), "creating %s %s/%s", o.GetObjectKind().GroupVersionKind().Kind, o.GetNamespace(), o.GetName())
	}
}

// createManifests creates every object of a testdata/acceptance file.
func createManifests(name string) {
	GinkgoHelper()
	for _, o := range manifests(name) {
		create(o)
	}
}

// namespace creates ns and deletes it (with everything in it) after the
// container that called it.
func namespace(ns string) {
	GinkgoHelper()
	create(&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}})
	DeferCleanup(func() {
		err := acc.k8s.Delete(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}})
		if !apierrors.IsNotFound(err) {
			Expect(err).NotTo(HaveOccurred())
		}
	})
}

// echoBackends creates, for each name, a one-replica echo-basic Deployment
// and a Service of that name whose port 80 (named http) targets the pod's
// port 3000.
func echoBackends(ns string, names ...string) {
	GinkgoHelper()
	for _, name := range names {
		labels := map[string]string{"app": name}
		create(
			&appsv1.Deployment{
				ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: labels},
				Spec: appsv1.DeploymentSpec{
					Replicas: ptrTo(int32(1)),
					Selector: &metav1.LabelSelector{MatchLabels: labels},
					Template: corev1.PodTemplateSpec{
						ObjectMeta: metav1.ObjectMeta{Labels: labels},
						Spec: corev1.PodSpec{Containers: []corev1.Container{{
							Name:  "echo",
							Image: localcluster.EchoBasicImage + ":v1.6.3",
							Env: []corev1.EnvVar{
								{Name: "POD_NAME", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}},
								{Name: "NAMESPACE", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.namespace"}}},
							},
							Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 3000}},
						}}},
					},
				},
			},
			&corev1.Service{
				ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
				Spec: corev1.ServiceSpec{
					Selector: labels,
					Ports:    []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromInt32(3000)}},
				},
			},
		)
	}
}

// waitAvailable waits until every Deployment of ns has all its replicas
// ready.
func waitAvailable(ns string) {
	GinkgoHelper()
	Eventually(func(g Gomega) {
		var list appsv1.DeploymentList
		g.Expect(acc.k8s.List(context.Background(), &list, client.InNamespace(ns))).To(Succeed())
		g.Expect(list.Items).NotTo(BeEmpty())
		for _, d := range list.Items {
			g.Expect(d.Status.ReadyReplicas).To(Equal(*d.Spec.Replicas), "Deployment %s/%s", ns, d.Name)
		}
	}).WithTimeout(firstConvergence).WithPolling(poll).Should(Succeed())
}

// testCA is a certificate authority for one run's serving certificates.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pool *x509.CertPool
}

func newTestCA() *testCA {
	GinkgoHelper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	Expect(err).NotTo(HaveOccurred())
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "legate acceptance CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	Expect(err).NotTo(HaveOccurred())
	cert, err := x509.ParseCertificate(der)
	Expect(err).NotTo(HaveOccurred())
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &testCA{cert: cert, key: key, pool: pool}
}

// tlsSecret is a kubernetes.io/tls Secret whose certificate, signed by ca,
// names dnsNames.
func (ca *testCA) tlsSecret(ns, name string, dnsNames ...string) *corev1.Secret {
	GinkgoHelper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	Expect(err).NotTo(HaveOccurred())
	serial, err := rand.Int(rand.Reader, big.NewInt(1<<62))
	Expect(err).NotTo(HaveOccurred())
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: dnsNames[0]},
		DNSNames:     dnsNames,
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	Expect(err).NotTo(HaveOccurred())
	keyDER, err := x509.MarshalECPrivateKey(key)
	Expect(err).NotTo(HaveOccurred())
	var certPEM, keyPEM bytes.Buffer
	Expect(pem.Encode(&certPEM, &pem.Block{Type: "CERTIFICATE", Bytes: der})).To(Succeed())
	Expect(pem.Encode(&keyPEM, &pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})).To(Succeed())
	return &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Type:       corev1.SecretTypeTLS,
		Data:       map[string][]byte{corev1.TLSCertKey: certPEM.Bytes(), corev1.TLSPrivateKeyKey: keyPEM.Bytes()},
	}
}

// legateAlive fails the spec at once when Legate has exited, with the end
// of its log, rather than letting every later spec time out.
func legateAlive() {
	GinkgoHelper()
	if gone, log := acc.env.legateExited(); gone {
		Fail("legate exited:\n" + log)
	}
}

var _ = BeforeEach(legateAlive)
