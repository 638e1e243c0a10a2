package kube

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"golang.org/x/sys/unix"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

var _ = Describe("A real Envoy", func() {
	It("run by legate in Kubernetes mode routes a request to a backend whose address is in an EndpointSlice", func(ctx SpecContext) {
		envoy := envoyPath()
		// EndpointSlices may not hold loopback addresses, so the backend
		// lives in a network namespace of its own, reached over a veth pair.
		netns := newNetns()
		backend := netns.serveHTTP("backend-in-netns")

		ns := newNamespace(ctx, "envoy")
		for _, obj := range []client.Object{
			newService(ns, "echo"),
			newEndpointSlice(ns, "echo", int32(backend.port), netnsAddr),
			newIngress(ns, "echo", "echo.example", "/", "echo"),
		} {
			Expect(k8s.Create(ctx, obj)).To(Succeed())
		}
		httpPort, httpsPort, adminPort := freePort(), freePort(), freePort()
		p := startLegate(legateOptions{name: "envoy", namespace: ns, args: []string{
			"--envoy", "--envoy-path", envoy,
			"--http-port", fmt.Sprint(httpPort),
			"--https-port", fmt.Sprint(httpsPort),
			"--envoy-admin-address", fmt.Sprintf("127.0.0.1:%d", adminPort),
		}})

		By("sending a request through Envoy")
		// No proxy from the environment: the request goes to Envoy on
		// loopback, and Envoy goes to the namespace's address.
		hc := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{Proxy: nil}}
		var body string
		Eventually(func(g Gomega) {
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("http://127.0.0.1:%d/hello", httpPort), nil)
			g.Expect(err).NotTo(HaveOccurred())
			req.Host = "echo.example"
			resp, err := hc.Do(req)
			g.Expect(err).NotTo(HaveOccurred())
			defer resp.Body.Close()
			b, err := io.ReadAll(resp.Body)
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(resp.StatusCode).To(Equal(http.StatusOK), "body: %s", b)
			body = string(b)
		}).WithTimeout(30 * time.Second).WithPolling(200 * time.Millisecond).Should(Succeed())
		Expect(body).To(Equal("backend-in-netns /hello"))
		// The backend saw the request come over the veth pair, from Envoy.
		Expect(backend.peers()).To(ContainElement(HavePrefix(netnsHostAddr + ":")))
		p.ExpectRunning()
	}, SpecTimeout(specTimeout))
})

// envoyPath finds Envoy: LEGATE_ENVOY, then envoy on PATH. Without one
// the spec fails in CI and is skipped, loudly, elsewhere.
func envoyPath() string {
	GinkgoHelper()
	if p := os.Getenv("LEGATE_ENVOY"); p != "" {
		return p
	}
	if p, err := exec.LookPath("envoy"); err == nil {
		return p
	}
	failOrSkip("no Envoy: set LEGATE_ENVOY (hack/install-envoy.sh prints the path)")
	return ""
}

func failOrSkip(why string) {
	GinkgoHelper()
	if os.Getenv("CI") != "" {
		Fail(why)
	}
	// Printed as well: a skipped spec is only an "S" in Ginkgo's normal
	// output.
	fmt.Printf("\nSKIPPED: %s\n", why)
	Skip("SKIPPED: " + why)
}

func freePort() int {
	GinkgoHelper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	Expect(err).NotTo(HaveOccurred())
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// The veth pair's addresses: the host side, and the namespace side where
// the backend listens. A /30 of the benchmarking range, which nothing
// routes.
const (
	netnsHostAddr = "198.18.0.1"
	netnsAddr     = "198.18.0.2"
)

type netnsT struct {
	name string
}

// newNetns creates a network namespace joined to the host by a veth pair
// (host 198.18.0.1/30, namespace 198.18.0.2/30), removed when the spec
// ends, even if it fails half-way. It needs root and the ip command.
func newNetns() *netnsT {
	GinkgoHelper()
	if os.Geteuid() != 0 {
		failOrSkip("the Envoy test creates a network namespace and needs root")
	}
	ip, err := exec.LookPath("ip")
	if err != nil {
		failOrSkip("the Envoy test creates a network namespace and needs the ip command (iproute2)")
	}
	run := func(args ...string) error {
		out, err := exec.Command(ip, args...).CombinedOutput()
		if err != nil {
			return fmt.Errorf("ip %s: %w: %s", strings.Join(args, " "), err, out)
		}
		return nil
	}
	out, err := exec.Command(ip, "-o", "addr", "show", "to", netnsHostAddr+"/30").CombinedOutput()
	Expect(err).NotTo(HaveOccurred(), "ip addr show: %s", out)
	Expect(strings.TrimSpace(string(out))).To(BeEmpty(), "%s/30 is already in use on this host", netnsHostAddr)

	pid := os.Getpid() % 100000
	n := &netnsT{name: fmt.Sprintf("legate-kube-%d", pid)}
	hostVeth, nsVeth := fmt.Sprintf("lgk%dh", pid), fmt.Sprintf("lgk%dn", pid)
	DeferCleanup(func() {
		// Deleting one end of a veth pair deletes both; the namespace
		// would take its end with it too. Errors: already gone.
		_ = run("link", "del", hostVeth)
		_ = run("netns", "del", n.name)
	})
	for _, args := range [][]string{
		{"netns", "add", n.name},
		{"link", "add", hostVeth, "type", "veth", "peer", "name", nsVeth},
		{"link", "set", nsVeth, "netns", n.name},
		{"addr", "add", netnsHostAddr + "/30", "dev", hostVeth},
		{"link", "set", hostVeth, "up"},
		{"-n", n.name, "addr", "add", netnsAddr + "/30", "dev", nsVeth},
		{"-n", n.name, "link", "set", nsVeth, "up"},
		{"-n", n.name, "link", "set", "lo", "up"},
	} {
		Expect(run(args...)).To(Succeed())
	}
	return n
}

// listen opens a TCP socket on 198.18.0.2 inside the namespace. A socket
// belongs to the namespace of the thread that made it, so one locked
// thread enters the namespace, listens and comes back; the socket stays in
// the namespace.
func (n *netnsT) listen() net.Listener {
	GinkgoHelper()
	type result struct {
		l   net.Listener
		err error
	}
	res := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		back, err := os.Open("/proc/thread-self/ns/net")
		if err != nil {
			runtime.UnlockOSThread()
			res <- result{err: fmt.Errorf("current network namespace: %w", err)}
			return
		}
		defer back.Close()
		target, err := os.Open("/var/run/netns/" + n.name)
		if err != nil {
			runtime.UnlockOSThread()
			res <- result{err: fmt.Errorf("namespace %s: %w", n.name, err)}
			return
		}
		defer target.Close()
		if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread()
			res <- result{err: fmt.Errorf("entering namespace %s: %w", n.name, err)}
			return
		}
		l, lerr := net.Listen("tcp", netnsAddr+":0")
		if err := unix.Setns(int(back.Fd()), unix.CLONE_NEWNET); err != nil {
			// Still locked: the runtime ends this thread with the
			// goroutine, so no other goroutine runs in the namespace.
			if l != nil {
				_ = l.Close()
			}
			res <- result{err: fmt.Errorf("leaving namespace %s: %w", n.name, err)}
			return
		}
		runtime.UnlockOSThread()
		res <- result{l: l, err: lerr}
	}()
	r := <-res
	Expect(r.err).NotTo(HaveOccurred())
	return r.l
}

// netnsBackend is an HTTP server in the namespace that answers
// "<name> <path>" and remembers who called.
type netnsBackend struct {
	port int
	mu   sync.Mutex
	from []string
}

func (n *netnsT) serveHTTP(name string) *netnsBackend {
	GinkgoHelper()
	l := n.listen()
	b := &netnsBackend{port: l.Addr().(*net.TCPAddr).Port}
	srv := &http.Server{
		ReadHeaderTimeout: 5 * time.Second,
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			b.mu.Lock()
			b.from = append(b.from, r.RemoteAddr)
			b.mu.Unlock()
			fmt.Fprintf(w, "%s %s", name, r.URL.Path)
		}),
	}
	go func() { _ = srv.Serve(l) }()
	DeferCleanup(func(ctx context.Context) { _ = srv.Shutdown(ctx) })
	return b
}

func (b *netnsBackend) peers() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.from...)
}
