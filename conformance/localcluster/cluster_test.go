package localcluster

import (
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
	"log/slog"
	"math/big"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
)

// TestCluster starts the local cluster and runs a Deployment of echo-basic
// on it, as the conformance suite does: the pods get addresses of the pod
// network, become Ready, land in the Service's EndpointSlice, answer HTTP
// from the host with their own name, serve HTTPS with the certificate of a
// Secret volume, and their output is readable as pod logs through the API
// server. Scaling down stops a pod and removes its network namespace, and
// Stop leaves no namespace, bridge or process behind.
func TestCluster(t *testing.T) {
	assets := os.Getenv("KUBEBUILDER_ASSETS")
	if assets == "" {
		t.Fatal("KUBEBUILDER_ASSETS is not set: export KUBEBUILDER_ASSETS=\"$(hack/build-kube.sh)\"")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	programs, err := BuildPrograms(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	c, err := Start(ctx, Options{
		AssetsDir: assets,
		PodCIDR:   "10.247.0.0/16",
		Images:    programs,
		Logger:    slog.New(slog.NewTextHandler(testWriter{t}, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	stopped := false
	defer func() {
		if !stopped {
			_ = c.Stop()
		}
	}()
	cs := c.Clientset
	const ns = "default"

	certPEM, keyPEM := testCertificate(t, "echo.example")
	if _, err := cs.CoreV1().Secrets(ns).Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "echo-tls"},
		Data:       map[string][]byte{"crt": certPEM, "key": keyPEM},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	labels := map[string]string{"app": "echo"}
	dep := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "echo"},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To[int32](2),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{
					Containers: []corev1.Container{{
						Name:  "echo",
						Image: EchoBasicImage + ":v1.5.1",
						Env: []corev1.EnvVar{
							{Name: "POD_NAME", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}},
							{Name: "NAMESPACE", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.namespace"}}},
							{Name: "TLS_SERVER_CERT", Value: "/etc/secret-volume/crt"},
							{Name: "TLS_SERVER_PRIVKEY", Value: "/etc/secret-volume/key"},
						},
						VolumeMounts: []corev1.VolumeMount{{Name: "secret-volume", MountPath: "/etc/secret-volume"}},
					}},
					Volumes: []corev1.Volume{{Name: "secret-volume", VolumeSource: corev1.VolumeSource{
						Secret: &corev1.SecretVolumeSource{SecretName: "echo-tls"},
					}}},
				},
			},
		},
	}
	if _, err := cs.AppsV1().Deployments(ns).Create(ctx, dep, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := cs.CoreV1().Services(ns).Create(ctx, &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "echo"},
		Spec: corev1.ServiceSpec{Selector: labels, Ports: []corev1.ServicePort{
			{Name: "http", Port: 8080, TargetPort: intstr.FromInt32(3000)},
		}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	start := time.Now()
	var pods []corev1.Pod
	eventually(t, ctx, 60*time.Second, "two Ready echo pods", func() (bool, string) {
		list, err := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "app=echo"})
		if err != nil {
			return false, err.Error()
		}
		pods = nil
		for _, p := range list.Items {
			if p.DeletionTimestamp == nil && podReady(&p) {
				pods = append(pods, p)
			}
		}
		return len(pods) == 2, fmt.Sprintf("%d of %d pods ready", len(pods), len(list.Items))
	})
	t.Logf("two echo pods Ready %v after the Deployment was created", time.Since(start).Round(time.Millisecond))
	var podIPs []string
	for _, p := range pods {
		ip, err := netip.ParseAddr(p.Status.PodIP)
		if err != nil || !c.prefix.Contains(ip) || ip == c.NodeIP() {
			t.Fatalf("pod %s has address %q, not one of the pod network %s", p.Name, p.Status.PodIP, c.prefix)
		}
		if p.Spec.NodeName != c.NodeName() {
			t.Fatalf("pod %s is bound to %q, not to the node %q", p.Name, p.Spec.NodeName, c.NodeName())
		}
		podIPs = append(podIPs, p.Status.PodIP)
	}
	slices.Sort(podIPs)
	if podIPs[0] == podIPs[1] {
		t.Fatalf("both pods have the address %s", podIPs[0])
	}

	eventually(t, ctx, 30*time.Second, "the Service's EndpointSlice lists both pods, ready", func() (bool, string) {
		slices_, err := cs.DiscoveryV1().EndpointSlices(ns).List(ctx, metav1.ListOptions{LabelSelector: discoveryv1.LabelServiceName + "=echo"})
		if err != nil {
			return false, err.Error()
		}
		var got []string
		for _, s := range slices_.Items {
			for _, e := range s.Endpoints {
				if e.Conditions.Ready != nil && *e.Conditions.Ready {
					got = append(got, e.Addresses...)
				}
			}
		}
		slices.Sort(got)
		return slices.Equal(got, podIPs), fmt.Sprintf("ready endpoints %v, want %v", got, podIPs)
	})

	// sinceTime travels in whole seconds: start from the next one.
	since := metav1.NewTime(time.Now().Truncate(time.Second).Add(time.Second))
	time.Sleep(time.Until(since.Time) + 10*time.Millisecond)
	for _, p := range pods {
		// HTTP from the host to the pod's address: echo-basic answers with
		// the pod's name and namespace from the downward API.
		resp, err := http.Get("http://" + p.Status.PodIP + ":3000/hello-from-test")
		if err != nil {
			t.Fatalf("GET pod %s: %v", p.Name, err)
		}
		var echo struct{ Pod, Namespace, Path string }
		err = json.NewDecoder(resp.Body).Decode(&echo)
		resp.Body.Close()
		if err != nil {
			t.Fatalf("pod %s answered something else than echo-basic's JSON: %v", p.Name, err)
		}
		if echo.Pod != p.Name || echo.Namespace != ns || echo.Path != "/hello-from-test" {
			t.Fatalf("pod %s echoed pod %q namespace %q path %q", p.Name, echo.Pod, echo.Namespace, echo.Path)
		}
		// HTTPS with the Secret volume's certificate, found through the
		// rewritten TLS_SERVER_CERT path.
		pool := x509.NewCertPool()
		pool.AppendCertsFromPEM(certPEM)
		hc := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
			TLSClientConfig: &tls.Config{RootCAs: pool, ServerName: "echo.example"},
		}}
		resp, err = hc.Get("https://" + p.Status.PodIP + ":8443/tls")
		if err != nil {
			t.Fatalf("HTTPS to pod %s with the Secret's certificate: %v", p.Name, err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()

		// The logs, through the API server and the node's kubelet
		// endpoint, since the time of the request.
		raw, err := cs.CoreV1().Pods(ns).GetLogs(p.Name, &corev1.PodLogOptions{Container: "echo", SinceTime: &since}).DoRaw(ctx)
		if err != nil {
			t.Fatalf("logs of pod %s: %v", p.Name, err)
		}
		if !strings.Contains(string(raw), "Echoing back request made to /hello-from-test") {
			t.Fatalf("logs of pod %s since the request lack it:\n%s", p.Name, raw)
		}
		if strings.Contains(string(raw), "Starting server") {
			t.Fatalf("logs of pod %s since %v include the start-up lines, written before:\n%s", p.Name, since.Time, raw)
		}
	}

	// Scale down: one pod goes, and its network namespace with it; the
	// bridge keeps the address it was given, which the pods' neighbour
	// entries name.
	mac := linkAddress(t, c.bridge)
	if mac != c.bridgeMAC() {
		t.Fatalf("bridge %s has address %s, want the fixed %s", c.bridge, mac, c.bridgeMAC())
	}
	before := podNetns(t)
	if len(before) != 2 {
		t.Fatalf("want one network namespace per pod, have %v", before)
	}
	scale, err := cs.AppsV1().Deployments(ns).GetScale(ctx, "echo", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	scale.Spec.Replicas = 1
	if _, err := cs.AppsV1().Deployments(ns).UpdateScale(ctx, "echo", scale, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, ctx, 30*time.Second, "one pod and one network namespace left", func() (bool, string) {
		list, err := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "app=echo"})
		if err != nil {
			return false, err.Error()
		}
		have := podNetns(t)
		return len(list.Items) == 1 && len(have) == 1, fmt.Sprintf("%d pods, namespaces %v", len(list.Items), have)
	})

	if got := linkAddress(t, c.bridge); got != mac {
		t.Fatalf("bridge %s changed its address from %s to %s when a pod went", c.bridge, mac, got)
	}

	stopped = true
	bridge := c.bridge
	if err := c.Stop(); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if left := podNetns(t); len(left) > 0 {
		t.Fatalf("Stop left network namespaces %v", left)
	}
	if linkExists(bridge) {
		t.Fatalf("Stop left the bridge %s", bridge)
	}
	// The pods' processes are gone (the container IDs are their pids). A
	// dial to the pod addresses proves nothing once the bridge is gone:
	// such connections may be answered elsewhere.
	for _, p := range pods {
		for _, cs := range p.Status.ContainerStatuses {
			pid, err := strconv.Atoi(strings.TrimPrefix(cs.ContainerID, "localcluster://"))
			if err != nil {
				t.Fatalf("pod %s: container ID %q is not localcluster://<pid>", p.Name, cs.ContainerID)
			}
			if processAlive(pid) {
				t.Fatalf("pod %s: process %d is still running after Stop", p.Name, pid)
			}
		}
	}
	for _, l := range listLinks() {
		if strings.HasPrefix(l, "lgv"+c.id) {
			t.Fatalf("Stop left the veth %s", l)
		}
	}
}

func podReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// linkAddress reads a network interface's hardware address.
func linkAddress(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("/sys/class/net", name, "address"))
	if err != nil {
		t.Fatalf("address of %s: %v", name, err)
	}
	return strings.TrimSpace(string(b))
}

// podNetns lists the pod network namespaces of this process.
func podNetns(t *testing.T) []string {
	t.Helper()
	var out []string
	for _, ns := range listNetns() {
		if strings.HasPrefix(ns, netnsPrefix(os.Getpid())) {
			out = append(out, ns)
		}
	}
	return out
}

func eventually(t *testing.T, ctx context.Context, timeout time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	last := ""
	for time.Now().Before(deadline) && ctx.Err() == nil {
		ok, msg := cond()
		if ok {
			return
		}
		last = msg
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("timed out after %v waiting for %s: %s", timeout, what, last)
}

func testCertificate(t *testing.T, host string) (certPEM, keyPEM []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: host},
		DNSNames:     []string{host},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder})
}

// testWriter sends the cluster's log to the test's.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}
