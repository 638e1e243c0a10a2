package main

// The Kubernetes-provider mode (-providers kubernetes): the workload is
// created in a real kube-apiserver and etcd (controller-runtime envtest,
// binaries from KUBEBUILDER_ASSETS), `legate serve --kubeconfig` watches
// them, and every edit is an API request (a merge patch of one HTTPRoute,
// then of one EndpointSlice) timed until the ADS client holds its result.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/legateproxy/legate/bench/workload"
)

// Providers the serve measurements can read the workload from.
const (
	providerFile = "file"
	providerKube = "kubernetes"
)

// kubeEnv is one API server with the CRDs installed, a fast client of it
// and a kubeconfig file for legate.
type kubeEnv struct {
	env    *envtest.Environment
	client client.Client
	// builtin is a client of the same user speaking protobuf, for the
	// built-in kinds.
	builtin    client.Client
	kubeconfig string
}

// startKube starts kube-apiserver and etcd with the Gateway API
// (experimental channel, a superset of the standard one) and
// getambassador.io CRDs.
func startKube(dir string) (*kubeEnv, error) {
	assets := os.Getenv("KUBEBUILDER_ASSETS")
	if assets == "" {
		return nil, errors.New("KUBEBUILDER_ASSETS is not set (hack/build-kube.sh prints the folder to export)")
	}
	gatewayAPI, err := goListDir("sigs.k8s.io/gateway-api")
	if err != nil {
		return nil, err
	}
	root, err := goListDir("")
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	// envtest logs through controller-runtime, which otherwise prints a
	// warning with a stack trace when no logger was set.
	ctrllog.SetLogger(logr.Discard())
	env := &envtest.Environment{
		BinaryAssetsDirectory: assets,
		CRDDirectoryPaths: []string{
			filepath.Join(gatewayAPI, "config", "crd", "experimental"),
			filepath.Join(root, "charts", "legate", "crds"),
		},
		ErrorIfCRDPathMissing:    true,
		ControlPlaneStartTimeout: time.Minute,
		ControlPlaneStopTimeout:  30 * time.Second,
	}
	// envtest's default Service range (a /24) holds 254 Services; /12 is
	// the largest the API server accepts.
	env.ControlPlane.GetAPIServer().Configure().Set("service-cluster-ip-range", "10.96.0.0/12")
	cfg, err := env.Start()
	if err != nil {
		return nil, fmt.Errorf("starting kube-apiserver and etcd: %w", err)
	}
	k := &kubeEnv{env: env}
	cfg = rest.CopyConfig(cfg)
	// Creating tens of thousands of objects at client-go's default 5/s
	// would take hours.
	cfg.QPS, cfg.Burst = 5000, 10000
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		k.stop()
		return nil, err
	}
	if err := gatewayv1.Install(scheme); err != nil {
		k.stop()
		return nil, err
	}
	if k.client, err = client.New(cfg, client.Options{Scheme: scheme}); err != nil {
		k.stop()
		return nil, err
	}
	// Protobuf costs the API server less to decode than JSON; only the
	// built-in kinds (Services, EndpointSlices) have it, not CRDs.
	pcfg := rest.CopyConfig(cfg)
	pcfg.ContentType = runtime.ContentTypeProtobuf
	if k.builtin, err = client.New(pcfg, client.Options{Scheme: clientgoscheme.Scheme}); err != nil {
		k.stop()
		return nil, err
	}
	user, err := env.AddUser(envtest.User{Name: "legate", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		k.stop()
		return nil, fmt.Errorf("adding legate's user: %w", err)
	}
	kc, err := user.KubeConfig()
	if err != nil {
		k.stop()
		return nil, err
	}
	k.kubeconfig = filepath.Join(dir, "kubeconfig")
	if err := os.WriteFile(k.kubeconfig, kc, 0o600); err != nil {
		k.stop()
		return nil, err
	}
	return k, nil
}

func (k *kubeEnv) stop() {
	if err := k.env.Stop(); err != nil {
		fmt.Fprintln(os.Stderr, "e2e: stopping kube-apiserver:", err)
	}
}

// goListDir is the folder of module mod ("" for the main module).
func goListDir(mod string) (string, error) {
	args := []string{"list", "-m", "-f", "{{.Dir}}"}
	if mod != "" {
		args = append(args, mod)
	}
	out, err := exec.Command("go", args...).Output()
	if err != nil {
		return "", fmt.Errorf("go list -m %s: %w", mod, err)
	}
	return strings.TrimSpace(string(out)), nil
}

// createAll creates the objects of a workload: the namespace and
// cluster-scoped ones first, the rest by a pool of workers.
func (k *kubeEnv) createAll(ctx context.Context, objs []client.Object) error {
	create := func(o client.Object) error {
		c := k.client
		if gvks, _, err := clientgoscheme.Scheme.ObjectKinds(o); err == nil && len(gvks) > 0 {
			c = k.builtin
		}
		err := c.Create(ctx, o)
		if err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("creating %T %s: %w", o, o.GetName(), err)
		}
		return nil
	}
	var rest []client.Object
	for _, o := range objs {
		if o.GetNamespace() == "" {
			if err := create(o); err != nil {
				return err
			}
			continue
		}
		rest = append(rest, o)
	}
	work := make(chan client.Object)
	errs := make(chan error, 1)
	var wg sync.WaitGroup
	for range 32 {
		wg.Go(func() {
			for o := range work {
				if err := create(o); err != nil {
					select {
					case errs <- err:
					default:
					}
				}
			}
		})
	}
	for _, o := range rest {
		work <- o
	}
	close(work)
	wg.Wait()
	select {
	case err := <-errs:
		return err
	default:
		return nil
	}
}

// headlessAbove is the size above which the Kubernetes runs create their
// Services headless. The API server's ClusterIP allocator (Kubernetes
// 1.33 and later) lists every allocated address twice for each Service it
// gives one to, for its metrics: 62 % of kube-apiserver's CPU while
// creating a 50k workload, and creation slowed from ~210 objects/s to
// ~25/s past 40k Services. Legate never reads a Service's cluster IP
// (endpoints come from EndpointSlices), so what it translates and pushes
// is the same.
const headlessAbove = 10000

// headless makes the Services among objs headless.
func headless(objs []client.Object) {
	for _, o := range objs {
		if svc, ok := o.(*corev1.Service); ok {
			svc.Spec.ClusterIP = corev1.ClusterIPNone
		}
	}
}

// measureKube fills r's serve figures with the Kubernetes provider.
func measureKube(c config, r *result) error {
	dir := filepath.Join(c.work, fmt.Sprintf("kube-%s-%d", r.shape, r.n))
	fmt.Fprintf(os.Stderr, "e2e: %s/%s: starting kube-apiserver\n", r.label(), sizeName(r.n))
	k, err := startKube(dir)
	if err != nil {
		return err
	}
	defer k.stop()
	ctx := context.Background()
	objs, err := workload.Objects(r.shape, r.n)
	if err != nil {
		return err
	}
	if r.n > headlessAbove {
		headless(objs)
		r.info = append(r.info, fmt.Sprintf("Services created headless (spec.clusterIP: None) above %d routes", headlessAbove))
	}
	start := time.Now()
	if err := k.createAll(ctx, objs); err != nil {
		return err
	}
	r.info = append(r.info, fmt.Sprintf("%d objects created in %s", len(objs), dur(time.Since(start))))
	fmt.Fprintf(os.Stderr, "e2e: %s/%s: %d objects created in %s\n", r.label(), sizeName(r.n), len(objs), dur(time.Since(start)))

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
	args := []string{"serve", "--kubeconfig", k.kubeconfig, "--xds-address", xdsAddr,
		"--metrics-address", metricsAddr, "--health-address", "", "--admin-address", adminAddr,
		"--log-level", "warn"}
	if c.pprof {
		args = append(args, "--admin-pprof")
	}
	if c.kubeQPS > 0 {
		args = append(args, "--kube-api-qps", fmt.Sprint(c.kubeQPS), "--kube-api-burst", fmt.Sprint(max(1, int(2*c.kubeQPS))))
		r.info = append(r.info, fmt.Sprintf("legate serve --kube-api-qps %v", c.kubeQPS))
	}
	cmd := exec.Command(c.legate, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Env = append(withoutEnv(os.Environ(), "KUBECONFIG", "POD_NAME", "POD_NAMESPACE"), "GODEBUG=gctrace=1")
	start = time.Now()
	r.serveStart = start
	if err := cmd.Start(); err != nil {
		return err
	}
	defer stop(cmd)
	ac, err := dialRetry(xdsAddr, 30*time.Second)
	if err != nil {
		return err
	}
	defer ac.Close()
	if _, err := ac.WaitFor(5*time.Minute, func(a *ads) bool { return a.complete(2 * r.n) }); err != nil {
		return fmt.Errorf("waiting for the full configuration: %w", err)
	}
	r.startup = time.Since(start)
	fmt.Fprintf(os.Stderr, "e2e: %s/%s: full configuration after %s\n", r.label(), sizeName(r.n), dur(r.startup))

	// Steady state includes Legate's status writes (one per HTTPRoute after
	// a start): edits are measured once they are over, and how long they
	// took is noted.
	if !c.waitStatus {
		r.info = append(r.info, "measured while Legate was still writing HTTPRoute statuses (-wait-status=false)")
	} else if d, err := k.waitStatuses(ctx, r.n, start, 10*time.Minute); err != nil {
		r.notes = append(r.notes, err.Error())
	} else {
		r.info = append(r.info, fmt.Sprintf("every HTTPRoute's status written %s after serve start", dur(d)))
	}
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

	// Route edits: route 0's prefix becomes /app-K/.
	route := &gatewayv1.HTTPRoute{}
	if err := k.client.Get(ctx, client.ObjectKey{Namespace: workload.Namespace, Name: workload.RouteName(0)}, route); err != nil {
		return err
	}
	setPrefix := func(p string) error {
		base := route.DeepCopy()
		route.Spec.Rules[0].Matches[0].Path.Value = &p
		return k.client.Patch(ctx, route, client.MergeFrom(base))
	}
	before := ac.Counts()
	deadline := time.Now().Add(c.budget)
	profiled := cpuProfile(c, adminAddr, dir, "route-edits", r)
	var routeAPI, edsAPI []time.Duration
	for i := 1; i <= c.edits && time.Now().Before(deadline); i++ {
		p := fmt.Sprintf("/app-%d/", i)
		d, api, err := apiEdit(ac, func() error { return setPrefix(p) },
			func(a *ads) bool { return a.hasPrefix(p) || a.hasPrefix(strings.TrimSuffix(p, "/")) })
		if err != nil {
			return fmt.Errorf("route edit %d: %w", i, err)
		}
		r.route = append(r.route, d)
		r.routeEnds = append(r.routeEnds, time.Now())
		routeAPI = append(routeAPI, api)
	}
	profiled()
	saveLatencies(dir, "route-edits", r.routeEnds, r.route, routeAPI, r)
	last := fmt.Sprintf("/app-%d/", len(r.route))
	if _, _, err := apiEdit(ac, func() error { return setPrefix(workload.PrefixPath) }, func(a *ads) bool {
		return !a.hasPrefix(last) && !a.hasPrefix(strings.TrimSuffix(last, "/")) && a.routeCount() == 2*r.n
	}); err != nil {
		return fmt.Errorf("restoring route 0: %w", err)
	}
	time.Sleep(time.Second)
	r.routeOther = others(before, ac.Counts(), resource.RouteType)

	// EndpointSlice edits: Service 0's first address becomes a new one
	// from the benchmarking range 198.18.0.0/15.
	slice := &discoveryv1.EndpointSlice{}
	if err := k.client.Get(ctx, client.ObjectKey{Namespace: workload.Namespace, Name: workload.SliceName(0)}, slice); err != nil {
		return err
	}
	setAddr := func(a string) error {
		base := slice.DeepCopy()
		slice.Endpoints[0].Addresses = []string{a}
		return k.client.Patch(ctx, slice, client.MergeFrom(base))
	}
	orig := slice.Endpoints[0].Addresses[0]
	before = ac.Counts()
	deadline = time.Now().Add(c.budget)
	profiled = cpuProfile(c, adminAddr, dir, "endpoint-edits", r)
	for i := 1; i <= c.edits && time.Now().Before(deadline); i++ {
		addr := fmt.Sprintf("198.18.%d.%d", i/250, i%250+1)
		d, api, err := apiEdit(ac, func() error { return setAddr(addr) }, func(a *ads) bool { return a.hasEndpoint(addr) })
		if err != nil {
			return fmt.Errorf("EndpointSlice edit %d: %w", i, err)
		}
		r.eds = append(r.eds, d)
		r.edsEnds = append(r.edsEnds, time.Now())
		edsAPI = append(edsAPI, api)
	}
	profiled()
	saveLatencies(dir, "endpoint-edits", r.edsEnds, r.eds, edsAPI, r)
	// The API server and etcd share the machine with Legate: how long the
	// requests alone took tells their part of a slow edit from Legate's.
	r.info = append(r.info, fmt.Sprintf("the edits' API requests alone (until the patch was answered): route %s, EndpointSlice %s",
		series(routeAPI), series(edsAPI)))
	lastAddr := fmt.Sprintf("198.18.%d.%d", len(r.eds)/250, len(r.eds)%250+1)
	if _, _, err := apiEdit(ac, func() error { return setAddr(orig) }, func(a *ads) bool {
		return !a.hasEndpoint(lastAddr) && a.hasEndpoint(orig)
	}); err != nil {
		return fmt.Errorf("restoring EndpointSlice 0: %w", err)
	}
	time.Sleep(time.Second)
	r.edsOther = others(before, ac.Counts(), resource.EndpointType)
	// Memory after the edits: the heap grew to its goal between
	// collections, and the pages it touched count until returned.
	if rss, err := procRSS(cmd.Process.Pid); err == nil {
		r.rssAfter = rss
	}
	return nil
}

// apiEdit makes one API request and returns the time from just before it
// until cond held at the ADS client, and until the request was answered.
func apiEdit(ac *ads, do func() error, cond func(*ads) bool) (total, request time.Duration, err error) {
	start := time.Now()
	if err := do(); err != nil {
		return 0, 0, err
	}
	request = time.Since(start)
	at, err := ac.WaitFor(time.Minute, cond)
	if err != nil {
		return 0, 0, err
	}
	return at.Sub(start), request, nil
}

// waitStatuses waits until every HTTPRoute carries a status entry, and
// returns how long after start that was.
func (k *kubeEnv) waitStatuses(ctx context.Context, n int, start time.Time, timeout time.Duration) (time.Duration, error) {
	deadline := time.Now().Add(timeout)
	for {
		list := &gatewayv1.HTTPRouteList{}
		if err := k.client.List(ctx, list, client.InNamespace(workload.Namespace)); err != nil {
			return 0, fmt.Errorf("listing HTTPRoutes: %w", err)
		}
		done := 0
		for i := range list.Items {
			if len(list.Items[i].Status.Parents) > 0 {
				done++
			}
		}
		if done == n {
			return time.Since(start), nil
		}
		if time.Now().After(deadline) {
			return 0, fmt.Errorf("only %d of %d HTTPRoutes had a status %s after serve start", done, n, dur(time.Since(start)))
		}
		time.Sleep(time.Second)
	}
}

func fetch(url, path string) error {
	resp, err := http.Get(url)
	if err != nil {
		return fmt.Errorf("fetching %s: %w", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("fetching %s: %s", url, resp.Status)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		_ = f.Close()
		return err
	}
	return f.Close()
}

func withoutEnv(env []string, names ...string) []string {
	var out []string
	for _, kv := range env {
		name, _, _ := strings.Cut(kv, "=")
		keep := true
		for _, n := range names {
			if n == name {
				keep = false
			}
		}
		if keep {
			out = append(out, kv)
		}
	}
	return out
}

// label names a row's workload: its shape, and the provider when it is
// not the file one.
func (r *result) label() string {
	if r.provider == providerKube {
		return string(r.shape) + " (kube)"
	}
	return string(r.shape)
}

// heapProfile saves a heap profile of the serve run behind adminAddr.
func heapProfile(adminAddr, dir string, r *result) {
	if err := fetch("http://"+adminAddr+"/debug/pprof/heap?gc=1", dir+".heap.pprof"); err != nil {
		r.notes = append(r.notes, err.Error())
	}
	// The text form ends with the runtime's memory statistics: how the
	// RSS splits into heap in use, free spans, stacks and the rest.
	if err := fetch("http://"+adminAddr+"/debug/pprof/heap?debug=1", dir+".heap.txt"); err != nil {
		r.notes = append(r.notes, err.Error())
	}
}

// saveLatencies writes each edit of a series as a line of when it was
// seen pushed and how long it took, to dir.<series>.latencies, to be laid
// beside the serve log's GC trace (GODEBUG=gctrace=1): each line holds
// the milliseconds since serve was started (the trace's "@" times, in
// seconds) and the edit's latency in milliseconds, then, for API edits
// (api not nil), how long of it the request took until it was answered.
func saveLatencies(dir, series string, ends []time.Time, ds, api []time.Duration, r *result) {
	var b strings.Builder
	b.WriteString("# ms since serve start, latency ms")
	if api != nil {
		b.WriteString(", API request ms")
	}
	b.WriteString("\n")
	for i, d := range ds {
		fmt.Fprintf(&b, "%d %.2f", ends[i].Sub(r.serveStart).Milliseconds(), ms(d))
		if api != nil {
			fmt.Fprintf(&b, " %.2f", ms(api[i]))
		}
		b.WriteString("\n")
	}
	if err := os.WriteFile(dir+"."+series+".latencies", []byte(b.String()), 0o644); err != nil {
		r.notes = append(r.notes, err.Error())
	}
}

// cpuProfile starts a 5-second CPU profile of the serve run behind
// adminAddr (with -pprof; else it does nothing), saved as
// dir.<series>.cpu.pprof, and saves heap profiles taken right before it
// and once the returned func is called, at the end of the series, each
// after a collection (dir.<series>.start.heap.pprof and .end.heap.pprof:
// `go tool pprof -sample_index=alloc_space -base start end` is what the
// series allocated; the runtime's own delta profile only moves at
// collections, so it would count edits before the series). The returned
// func waits until all are saved, so that the run outlives them.
func cpuProfile(c config, adminAddr, dir, series string, r *result) (wait func()) {
	if !c.pprof {
		return func() {}
	}
	note := func(err error) {
		if err != nil {
			r.notes = append(r.notes, err.Error())
		}
	}
	heap := "http://" + adminAddr + "/debug/pprof/heap?gc=1"
	note(fetch(heap, dir+"."+series+".start.heap.pprof"))
	done := make(chan error, 1)
	go func() {
		done <- fetch("http://"+adminAddr+"/debug/pprof/profile?seconds=5", dir+"."+series+".cpu.pprof")
	}()
	return func() {
		note(fetch(heap, dir+"."+series+".end.heap.pprof"))
		note(<-done)
	}
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
