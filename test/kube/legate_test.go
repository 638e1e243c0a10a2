package kube

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// legateProc is one running `legate serve` in Kubernetes mode.
type legateProc struct {
	name string
	cmd  *exec.Cmd
	// Identity is what the replica calls itself in the Lease and as the
	// field manager of its status writes: "<POD_NAME>-<pid>".
	Identity string
	// Addresses legate reported listening on.
	XDS, Health string

	exited  chan struct{}
	waitErr error

	mu        sync.Mutex
	listening map[string]string
	logs      strings.Builder
	lines     chan struct{}
}

type legateOptions struct {
	// name is the replica's POD_NAME.
	name string
	// namespace is watched (--watch-namespaces) and holds the Lease.
	namespace string
	args      []string
}

var listeningRE = regexp.MustCompile(`msg="([a-zA-Z]+) server listening" address=(\S+)`)

// startLegate starts `legate serve` on kubeconfigPath with every port chosen
// by the kernel, and returns once its xDS and health servers listen. The
// process (and any Envoy it started) is stopped when the spec ends.
func startLegate(o legateOptions) *legateProc {
	GinkgoHelper()
	args := append([]string{"serve",
		"--kubeconfig", kubeconfigPath,
		"--watch-namespaces", o.namespace,
		"--leader-election-namespace", o.namespace,
		"--xds-address", "127.0.0.1:0",
		"--health-address", "127.0.0.1:0",
		"--metrics-address", "127.0.0.1:0",
		"--admin-address", "127.0.0.1:0",
		"--listen-address", "127.0.0.1",
		"--status-address", "192.0.2.10",
	}, o.args...)
	p := &legateProc{name: o.name, exited: make(chan struct{}), listening: map[string]string{}, lines: make(chan struct{}, 1)}
	p.cmd = exec.Command(legateBin, args...)
	p.cmd.Env = append(withoutEnv(os.Environ(), "POD_NAME", "POD_NAMESPACE", "KUBECONFIG"), "POD_NAME="+o.name)
	// Its own process group, so that cleanup also reaches a child Envoy;
	// and killed with the test process if that dies first.
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	r, w, err := os.Pipe()
	Expect(err).NotTo(HaveOccurred())
	p.cmd.Stdout, p.cmd.Stderr = w, w
	Expect(p.cmd.Start()).To(Succeed())
	_ = w.Close()
	p.Identity = o.name + "-" + strconv.Itoa(p.cmd.Process.Pid)
	go p.readLogs(r)
	go func() {
		p.waitErr = p.cmd.Wait()
		close(p.exited)
	}()
	DeferCleanup(p.Stop)

	deadline := time.After(30 * time.Second)
	for p.listeningOn("xDS") == "" || p.listeningOn("health") == "" {
		select {
		case <-p.lines:
		case <-p.exited:
			Fail(fmt.Sprintf("legate %s exited before listening: %v", o.name, p.waitErr))
		case <-deadline:
			Fail(fmt.Sprintf("legate %s did not report its xDS and health addresses within 30s", o.name))
		}
	}
	p.XDS, p.Health = p.listeningOn("xDS"), p.listeningOn("health")
	return p
}

func withoutEnv(env []string, names ...string) []string {
	var out []string
	for _, kv := range env {
		name, _, _ := strings.Cut(kv, "=")
		if !contains(names, name) {
			out = append(out, kv)
		}
	}
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// readLogs copies the process's output to the spec's log (shown when a spec
// fails) and picks up the addresses it listens on.
func (p *legateProc) readLogs(r io.ReadCloser) {
	defer r.Close()
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		line := sc.Text()
		GinkgoWriter.Printf("[%s] %s\n", p.name, line)
		p.mu.Lock()
		if m := listeningRE.FindStringSubmatch(line); m != nil {
			p.listening[m[1]] = m[2]
		}
		p.logs.WriteString(line)
		p.logs.WriteByte('\n')
		p.mu.Unlock()
		select {
		case p.lines <- struct{}{}:
		default:
		}
	}
}

func (p *legateProc) listeningOn(server string) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.listening[server]
}

// Logs is everything the process printed so far.
func (p *legateProc) Logs() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.logs.String()
}

// Pid is the process id.
func (p *legateProc) Pid() int { return p.cmd.Process.Pid }

// Running reports whether the process has not exited.
func (p *legateProc) Running() bool {
	select {
	case <-p.exited:
		return false
	default:
		return true
	}
}

// Ready reports whether /readyz answers 200 (a configuration was published).
func (p *legateProc) Ready() (bool, error) {
	c := http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get("http://" + p.Health + "/readyz")
	if err != nil {
		return false, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode == http.StatusOK, nil
}

// WaitReady waits until /readyz answers 200.
func (p *legateProc) WaitReady() {
	GinkgoHelper()
	Eventually(p.Ready).WithTimeout(30*time.Second).WithPolling(50*time.Millisecond).
		Should(BeTrue(), "legate %s did not become ready", p.name)
}

// ADS connects an ADS client to this process; it is closed when the spec
// ends.
func (p *legateProc) ADS(routeNames ...string) *adsClient {
	GinkgoHelper()
	c, err := dialADS(context.Background(), p.XDS, fmt.Sprintf("test-%s-%d", p.name, time.Now().UnixNano()), routeNames...)
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(c.Close)
	return c
}

// RSS is the process's resident set size and its peak, in KiB.
func (p *legateProc) RSS() (rss, peak int64) {
	GinkgoHelper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.Pid()))
	Expect(err).NotTo(HaveOccurred())
	for _, line := range strings.Split(string(b), "\n") {
		field, value, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(value), " kB"), 10, 64)
		switch field {
		case "VmRSS":
			Expect(err).NotTo(HaveOccurred())
			rss = kb
		case "VmHWM":
			Expect(err).NotTo(HaveOccurred())
			peak = kb
		}
	}
	Expect(rss).To(BeNumerically(">", 0), "no VmRSS in /proc/%d/status", p.Pid())
	return rss, peak
}

// Kill sends SIGKILL (no graceful shutdown, no Lease release) and waits
// for the process to exit.
func (p *legateProc) Kill() {
	GinkgoHelper()
	Expect(p.cmd.Process.Signal(syscall.SIGKILL)).To(Succeed())
	Eventually(p.exited).WithTimeout(10 * time.Second).Should(BeClosed())
}

// Stop stops the process gracefully (SIGTERM), killing it after 15s, and
// then anything left in its process group (a child Envoy).
func (p *legateProc) Stop() {
	if p.Running() {
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.exited:
		case <-time.After(15 * time.Second):
			GinkgoWriter.Printf("legate %s did not stop within 15s of SIGTERM; killing it\n", p.name)
			_ = p.cmd.Process.Signal(syscall.SIGKILL)
			<-p.exited
		}
	}
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
}

// ExpectRunning fails the spec if legate exited by itself.
func (p *legateProc) ExpectRunning() {
	GinkgoHelper()
	Expect(p.Running()).To(BeTrue(), "legate %s exited: %v", p.name, p.waitErr)
}
