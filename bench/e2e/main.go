// Command e2e is Legate's end-to-end benchmark. For every shape and size it
// writes the workload as YAML (package workload), then measures:
//
//   - `legate translate -f DIR --to xds`: whole-process wall time (median of
//     -runs) and peak RSS (the kernel's maximum resident set of the child);
//   - `legate serve --config-dir DIR` with an ADS client connected: time from
//     start to the full configuration at the client; time from rewriting the
//     file of one route (a new path prefix) to the RDS push that carries it;
//     time from rewriting one EndpointSlice to the EDS push that carries it,
//     and how many LDS, RDS and CDS responses were sent meanwhile (should be
//     none); steady-state RSS and Go heap of the serve process;
//   - allocations per translated route, taken from the output of
//     `go test -bench BenchmarkPipeline ./pipeline` given as -benchfile.
//
// It prints one Markdown table. Every figure is measured here; nothing is
// asserted.
package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"math"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"

	"github.com/legateproxy/legate/bench/workload"
)

type config struct {
	legate    string
	work      string
	shapes    []workload.Shape
	sizes     []int
	runs      int
	edits     int
	budget    time.Duration
	benchfile string
	serve     bool
	plot      string
	strict    bool
	// envoy, if set, is the Envoy binary for the Envoy-side measurement
	// (envoy.go).
	envoy string
	// providers the serve figures are measured with (file, kubernetes);
	// pprof saves heap and CPU profiles of serve runs.
	providers []string
	pprof     bool
	// kubeMax is the largest N measured with the Kubernetes provider:
	// creating 150k objects in one API server takes longer than the rest
	// of a run.
	kubeMax int
	// kubeQPS, when not 0, is passed to legate serve as --kube-api-qps
	// (and twice it as --kube-api-burst): its status writes after a start
	// are paced by it.
	kubeQPS float64
	// waitStatus makes Kubernetes-mode runs wait for Legate's status on
	// every HTTPRoute before measuring (at 10k that takes minutes at its
	// client's rate limit).
	waitStatus bool
}

// result is one row of the table.
type result struct {
	shape    workload.Shape
	n        int
	provider string

	translateWall time.Duration
	translateRSS  int64 // bytes

	startup    time.Duration
	route, eds []time.Duration
	// routeEnds and edsEnds are when each edit was seen pushed;
	// serveStart is when the serve process was started (the origin of
	// the times of its GC trace).
	routeEnds, edsEnds []time.Time
	serveStart         time.Time
	routeOther         map[string]int // responses other than RDS during route edits
	edsOther           map[string]int // responses other than EDS during EDS edits
	rss, heap          int64
	// rssAfter is serve's RSS after the edit series.
	rssAfter      int64
	allocsOfRoute float64
	notes         []string
	// info are facts about the run printed with the notes that, unlike
	// notes, do not say a measurement failed.
	info  []string
	envoy *envoyResult
}

func main() {
	var c config
	var shapes, sizes string
	flag.StringVar(&c.legate, "legate", "bin/legate", "legate binary to measure")
	flag.StringVar(&c.work, "work", "", "folder for workloads and logs (default: a temporary folder)")
	flag.StringVar(&shapes, "shapes", "ingress,gateway,mapping", "workload shapes")
	flag.StringVar(&sizes, "sizes", "1000,10000", "numbers of routes")
	flag.IntVar(&c.runs, "runs", 3, "translate runs per workload (median wall time)")
	flag.IntVar(&c.edits, "edits", 50, "edits per serve measurement")
	flag.DurationVar(&c.budget, "budget", 90*time.Second, "time limit of each edit series (fewer edits are made if it runs out)")
	flag.StringVar(&c.benchfile, "benchfile", "", "output of go test -bench BenchmarkPipeline, for allocs/route")
	flag.BoolVar(&c.serve, "serve", true, "measure serve mode too")
	flag.BoolVar(&c.strict, "strict", false, "exit non-zero if a measurement could not be made (the numbers themselves are never judged)")
	flag.StringVar(&c.plot, "plot", "", "also draw the results against N into this PNG file")
	flag.BoolVar(&deltaClient, "delta", true, "the benchmark's ADS client speaks delta (incremental) xDS, as the Envoy of legate serve --envoy does by default; -delta=false: state of the world")
	flag.StringVar(&c.envoy, "envoy", "", "Envoy binary: also measure, with a real Envoy fed by legate serve --envoy, route edits until Envoy serves them and Envoy's own update times (gateway shape)")
	var providers string
	flag.StringVar(&providers, "providers", providerFile, "where legate serve reads the workload: file, kubernetes (envtest; needs KUBEBUILDER_ASSETS), or both")
	flag.BoolVar(&c.waitStatus, "wait-status", true, "in Kubernetes mode, measure once Legate wrote every HTTPRoute's status (false: measure while it writes them)")
	flag.IntVar(&c.kubeMax, "kube-max-size", 10000, "largest N measured with the Kubernetes provider")
	flag.Float64Var(&c.kubeQPS, "kube-api-qps", 0, "legate serve's --kube-api-qps in Kubernetes mode, and twice it its burst (0: Legate's defaults)")
	flag.BoolVar(&c.pprof, "pprof", false, "save a heap profile of each serve run at steady state, and CPU profiles of its first 5 s of route edits and of EndpointSlice edits, next to its log")
	flag.Parse()
	for _, p := range strings.Split(providers, ",") {
		if p = strings.TrimSpace(p); p != providerFile && p != providerKube {
			fatal(fmt.Errorf("-providers: %q is neither %s nor %s", p, providerFile, providerKube))
		}
		c.providers = append(c.providers, strings.TrimSpace(p))
	}
	for _, s := range strings.Split(shapes, ",") {
		sh, err := workload.ParseShape(strings.TrimSpace(s))
		if err != nil {
			fatal(err)
		}
		c.shapes = append(c.shapes, sh)
	}
	for _, s := range strings.Split(sizes, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 {
			fatal(fmt.Errorf("-sizes: %q is not a positive number", s))
		}
		c.sizes = append(c.sizes, n)
	}
	if c.work == "" {
		d, err := os.MkdirTemp("", "legate-bench-")
		if err != nil {
			fatal(err)
		}
		defer os.RemoveAll(d)
		c.work = d
	}
	allocs, err := readAllocs(c.benchfile)
	if err != nil {
		fatal(err)
	}
	var results, plotted []*result
	for _, provider := range c.providers {
		for _, shape := range c.shapes {
			if provider == providerKube && shape != workload.Gateway {
				// The Kubernetes mode edits HTTPRoutes.
				continue
			}
			for _, n := range c.sizes {
				if provider == providerKube && n > c.kubeMax {
					fmt.Fprintf(os.Stderr, "e2e: %s (kube)/%s skipped: above -kube-max-size\n", shape, sizeName(n))
					continue
				}
				r := &result{shape: shape, n: n, provider: provider, allocsOfRoute: math.NaN()}
				if a, ok := allocs[fmt.Sprintf("%s/%s", shape, sizeName(n))]; ok {
					r.allocsOfRoute = a
				}
				measureOne := measure
				if provider == providerKube {
					measureOne = measureKube
				} else {
					plotted = append(plotted, r)
				}
				if err := measureOne(c, r); err != nil {
					r.notes = append(r.notes, err.Error())
				}
				fmt.Fprintf(os.Stderr, "e2e: %s/%s done\n", r.label(), sizeName(n))
				results = append(results, r)
			}
		}
	}
	printTable(os.Stdout, c, results)
	printEnvoyTable(os.Stdout, results)
	if c.plot != "" && len(plotted) > 0 {
		f, err := os.Create(c.plot)
		if err != nil {
			fatal(err)
		}
		if err := writePlot(f, plotted); err != nil {
			fatal(err)
		}
		if err := f.Close(); err != nil {
			fatal(err)
		}
	}
	if c.strict {
		for _, r := range results {
			if len(r.notes) > 0 {
				fatal(fmt.Errorf("%s/%s: a measurement failed (see the notes above)", r.label(), sizeName(r.n)))
			}
		}
	}
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "e2e:", err)
	os.Exit(1)
}

func sizeName(n int) string {
	if n%1000 == 0 {
		return fmt.Sprintf("%dk", n/1000)
	}
	return strconv.Itoa(n)
}

func measure(c config, r *result) error {
	dir := filepath.Join(c.work, fmt.Sprintf("%s-%d", r.shape, r.n))
	paths, err := workload.WriteDir(r.shape, r.n, dir, 1000)
	if err != nil {
		return err
	}
	if err := measureTranslate(c, dir, r); err != nil {
		return fmt.Errorf("translate: %w", err)
	}
	if !c.serve {
		return nil
	}
	if err := measureServe(c, dir, paths[0], r); err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	if c.envoy != "" && r.shape == workload.Gateway {
		if err := measureEnvoy(c, dir, paths[0], r); err != nil {
			return fmt.Errorf("envoy: %w", err)
		}
	}
	return nil
}

// measureTranslate runs legate translate c.runs times.
func measureTranslate(c config, dir string, r *result) error {
	var walls []time.Duration
	for range c.runs {
		cmd := exec.Command(c.legate, "translate", "-f", dir, "--to", "xds")
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		start := time.Now()
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("%w: %s", err, lastLine(stderr.String()))
		}
		walls = append(walls, time.Since(start))
		if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
			// Linux reports ru_maxrss in KiB.
			r.translateRSS = max(r.translateRSS, ru.Maxrss*1024)
		}
	}
	r.translateWall = percentile(walls, 0.5)
	return nil
}

func measureServe(c config, dir, editFile string, r *result) error {
	addrs, err := freeAddrs(3)
	if err != nil {
		return err
	}
	xdsAddr, metricsAddr, adminAddr := addrs[0], addrs[1], addrs[2]
	logf, err := os.Create(dir + ".serve.log")
	if err != nil {
		return err
	}
	defer logf.Close()
	args := []string{"serve", "--config-dir", dir, "--xds-address", xdsAddr,
		"--metrics-address", metricsAddr, "--health-address", "", "--admin-address", adminAddr,
		"--log-level", "warn"}
	if c.pprof {
		args = append(args, "--admin-pprof")
	}
	cmd := exec.Command(c.legate, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	// The runtime's GC trace gives the live heap after each collection
	// without help from legate itself.
	cmd.Env = append(os.Environ(), "GODEBUG=gctrace=1")
	start := time.Now()
	r.serveStart = start
	if err := cmd.Start(); err != nil {
		return err
	}
	defer stop(cmd)
	client, err := dialRetry(xdsAddr, 30*time.Second)
	if err != nil {
		return err
	}
	defer client.Close()
	at, err := client.WaitFor(5*time.Minute, func(a *ads) bool { return a.complete(2 * r.n) })
	if err != nil {
		return fmt.Errorf("waiting for the full configuration: %w", err)
	}
	r.startup = at.Sub(start)
	// Steady state: the initial burst's garbage has had time to be
	// collected.
	time.Sleep(3 * time.Second)
	if r.rss, err = procRSS(cmd.Process.Pid); err != nil {
		return err
	}
	r.info = append(r.info, rssParts(cmd.Process.Pid))
	if r.heap, err = liveHeap(logf.Name()); err != nil {
		r.notes = append(r.notes, err.Error())
	}
	if c.pprof {
		heapProfile(adminAddr, dir, r)
	}

	orig, err := os.ReadFile(editFile)
	if err != nil {
		return err
	}
	if !bytes.Contains(orig, []byte(workload.PrefixPath)) || !bytes.Contains(orig, []byte("- 192.0.2.1\n")) {
		return fmt.Errorf("%s holds no route or EndpointSlice to edit", editFile)
	}

	// Route edits: route 0's prefix becomes /app-K/.
	before := client.Counts()
	deadline := time.Now().Add(c.budget)
	profiled := cpuProfile(c, adminAddr, dir, "route-edits", r)
	for k := 1; k <= c.edits && time.Now().Before(deadline); k++ {
		p := fmt.Sprintf("/app-%d/", k)
		d, err := edit(client, editFile, bytes.Replace(orig, []byte(workload.PrefixPath), []byte(p), 1),
			func(a *ads) bool { return a.hasPrefix(p) || a.hasPrefix(strings.TrimSuffix(p, "/")) })
		if err != nil {
			return fmt.Errorf("route edit %d: %w", k, err)
		}
		r.route = append(r.route, d)
		r.routeEnds = append(r.routeEnds, time.Now())
	}
	profiled()
	saveLatencies(dir, "route-edits", r.routeEnds, r.route, nil, r)
	last := fmt.Sprintf("/app-%d/", len(r.route))
	if err := restore(client, editFile, orig, r.n, func(a *ads) bool {
		return !a.hasPrefix(last) && !a.hasPrefix(strings.TrimSuffix(last, "/"))
	}); err != nil {
		return err
	}
	r.routeOther = others(before, client.Counts(), resource.RouteType)

	// EndpointSlice edits: Service 0's first address becomes a new one
	// from the benchmarking range 198.18.0.0/15.
	before = client.Counts()
	deadline = time.Now().Add(c.budget)
	profiled = cpuProfile(c, adminAddr, dir, "endpoint-edits", r)
	for k := 1; k <= c.edits && time.Now().Before(deadline); k++ {
		addr := fmt.Sprintf("198.18.%d.%d", k/250, k%250+1)
		d, err := edit(client, editFile, bytes.Replace(orig, []byte("- 192.0.2.1\n"), []byte("- "+addr+"\n"), 1),
			func(a *ads) bool { return a.hasEndpoint(addr) })
		if err != nil {
			return fmt.Errorf("EndpointSlice edit %d: %w", k, err)
		}
		r.eds = append(r.eds, d)
		r.edsEnds = append(r.edsEnds, time.Now())
	}
	profiled()
	saveLatencies(dir, "endpoint-edits", r.edsEnds, r.eds, nil, r)
	lastAddr := fmt.Sprintf("198.18.%d.%d", len(r.eds)/250, len(r.eds)%250+1)
	if err := restore(client, editFile, orig, r.n, func(a *ads) bool { return !a.hasEndpoint(lastAddr) }); err != nil {
		return err
	}
	r.edsOther = others(before, client.Counts(), resource.EndpointType)
	// Memory after the edits: the heap grew to its goal between
	// collections, and the pages it touched count until returned.
	if rss, err := procRSS(cmd.Process.Pid); err == nil {
		r.rssAfter = rss
	}
	return nil
}

// edit replaces file with content, as an editor does (write a temporary
// file, rename it over), and returns the time until cond held at the ADS
// client.
func edit(client *ads, file string, content []byte, cond func(*ads) bool) (time.Duration, error) {
	tmp := filepath.Join(filepath.Dir(file), ".bench-edit.tmp")
	if err := os.WriteFile(tmp, content, 0o644); err != nil {
		return 0, err
	}
	start := time.Now()
	if err := os.Rename(tmp, file); err != nil {
		return 0, err
	}
	at, err := client.WaitFor(time.Minute, cond)
	if err != nil {
		return 0, err
	}
	return at.Sub(start), nil
}

// restore puts the original file back and waits until the last edit is
// undone at the client (gone says so; the original prefix and address are
// shared with other routes and Services, so their presence proves
// nothing), then lets pushes settle.
func restore(client *ads, file string, orig []byte, n int, gone func(*ads) bool) error {
	_, err := edit(client, file, orig, func(a *ads) bool {
		return gone(a) && a.hasEndpoint("192.0.2.1") && a.routeCount() == 2*n
	})
	if err != nil {
		return fmt.Errorf("restoring %s: %w", file, err)
	}
	// Count only the responses an edit caused: the file provider's
	// debounce plus a translation must be over before the next series.
	time.Sleep(time.Second)
	return nil
}

// others counts responses of types other than want between two counts.
// The restoring edit at the end of a series is counted too; it changes
// the same kind of thing as the series.
func others(before, after map[string]int, want string) map[string]int {
	out := map[string]int{}
	for t, n := range after {
		if t != want && n > before[t] {
			out[t] = n - before[t]
		}
	}
	return out
}

func dialRetry(addr string, timeout time.Duration) (*ads, error) {
	deadline := time.Now().Add(timeout)
	for {
		conn, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			_ = conn.Close()
			return dialADS(addr, "legate")
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("xDS server at %s not up within %s: %w", addr, timeout, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func stop(cmd *exec.Cmd) {
	_ = cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = cmd.Process.Kill()
		<-done
	}
}

// freeAddrs returns n loopback addresses with ports free now.
func freeAddrs(n int) ([]string, error) {
	out := make([]string, n)
	for i := range out {
		a, err := freeAddr()
		if err != nil {
			return nil, err
		}
		out[i] = a
	}
	return out, nil
}

func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// procRSS reads the resident set size of a process (VmRSS), in bytes.
func procRSS(pid int) (int64, error) {
	return procStatus(pid, "VmRSS")
}

// procStatus reads a figure given in kB in a process's /proc status, in
// bytes.
func procStatus(pid int, field string) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, fmt.Errorf("reading %s: %w", field, err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == field+":" {
			kb, err := strconv.ParseInt(f[1], 10, 64)
			return kb * 1024, err
		}
	}
	return 0, fmt.Errorf("no %s in /proc status", field)
}

// rssParts says what the resident set of a process at rest is made of:
// its anonymous memory (the Go heap and runtime), and the pages of files
// it maps, which for Legate are its own binary's code and read-only data
// (the same at any N: what starting the process touches).
func rssParts(pid int) string {
	anon, err := procStatus(pid, "RssAnon")
	if err != nil {
		return err.Error()
	}
	file, err := procStatus(pid, "RssFile")
	if err != nil {
		return err.Error()
	}
	return fmt.Sprintf("serve RSS at rest: %s anonymous, %s of mapped files (the binary)", mib(anon), mib(file))
}

// gcLine is a GC trace line; its third heap figure is the live heap the
// collection left, in MB.
var gcLine = regexp.MustCompile(`^gc \d+ @.* \d+->\d+->(\d+) MB`)

// liveHeap reads the live Go heap after the latest collection from the
// serve process's GC trace.
func liveHeap(logPath string) (int64, error) {
	b, err := os.ReadFile(logPath)
	if err != nil {
		return 0, err
	}
	var live int64 = -1
	for _, line := range strings.Split(string(b), "\n") {
		if m := gcLine.FindStringSubmatch(line); m != nil {
			live, _ = strconv.ParseInt(m[1], 10, 64)
		}
	}
	if live < 0 {
		return 0, errors.New("no GC trace line in the serve log")
	}
	return live << 20, nil
}

var benchLine = regexp.MustCompile(`^BenchmarkPipeline/(\w+)/(\w+)(?:-\d+)?\s.*?\s([0-9.]+) allocs/route`)

// readAllocs reads allocs/route per "shape/size" from go test -bench output.
func readAllocs(path string) (map[string]float64, error) {
	out := map[string]float64{}
	if path == "" {
		return out, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("-benchfile: %w", err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if m := benchLine.FindStringSubmatch(line); m != nil {
			v, err := strconv.ParseFloat(m[3], 64)
			if err == nil {
				out[m[1]+"/"+m[2]] = v
			}
		}
	}
	return out, nil
}

// percentile is the nearest-rank percentile p (0..1) of ds.
func percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := int(math.Ceil(p*float64(len(s)))) - 1
	return s[max(0, min(i, len(s)-1))]
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}
