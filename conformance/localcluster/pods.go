package localcluster

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/informers"
	listersv1 "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/retry"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/ptr"
)

// podRunner is the node's kubelet: it binds pods to the node and runs
// them. Pods are handled one key at a time (the work queue never hands the
// same key to two workers), each started or stopped at most once.
type podRunner struct {
	c      *Cluster
	queue  workqueue.TypedRateLimitingInterface[string]
	lister listersv1.PodLister

	mu      sync.Mutex
	pods    map[string]*runningPod // by namespace/name
	inUse   map[int]bool           // pod numbers holding an address
	next    int
	stopped bool
}

// runningPod is one pod's processes and network.
type runningPod struct {
	uid        types.UID
	namespace  string
	name       string
	n          int
	ip         netip.Addr
	netns      string
	dir        string
	started    metav1.Time
	containers []*runningContainer
	// stopping is closed when the pod is being stopped: supervisors do
	// not restart what exits after it.
	stopping chan struct{}
}

type runningContainer struct {
	spec    corev1.Container
	program Program
	env     []string
	known   bool
	logs    *logBuffer

	mu       sync.Mutex
	cmd      *exec.Cmd
	ready    bool
	restarts int32
	since    metav1.Time
	exited   chan struct{}
	lastExit *corev1.ContainerStateTerminated
}

func newPodRunner(c *Cluster) *podRunner {
	return &podRunner{
		c: c,
		// Retries (a Secret not created yet) stay frequent: a suite waits
		// for its pods with a deadline.
		queue: workqueue.NewTypedRateLimitingQueue(workqueue.NewTypedItemExponentialFailureRateLimiter[string](100*time.Millisecond, 2*time.Second)),
		pods:  map[string]*runningPod{},
		inUse: map[int]bool{},
	}
}

func (r *podRunner) start(ctx context.Context) error {
	factory := informers.NewSharedInformerFactory(r.c.Clientset, 0)
	inf := factory.Core().V1().Pods()
	r.lister = inf.Lister()
	enqueue := func(obj any) {
		if key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj); err == nil {
			r.queue.Add(key)
		}
	}
	if _, err := inf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    enqueue,
		UpdateFunc: func(_, obj any) { enqueue(obj) },
		DeleteFunc: enqueue,
	}); err != nil {
		return fmt.Errorf("localcluster: pod informer: %w", err)
	}
	factory.Start(ctx.Done())
	for typ, ok := range factory.WaitForCacheSync(ctx.Done()) {
		if !ok {
			return fmt.Errorf("localcluster: %v informer did not sync", typ)
		}
	}
	for range 8 {
		r.c.wg.Go(func() { r.work(ctx) })
	}
	r.c.wg.Go(func() {
		<-ctx.Done()
		r.queue.ShutDown()
	})
	return nil
}

func (r *podRunner) work(ctx context.Context) {
	for {
		key, quit := r.queue.Get()
		if quit {
			return
		}
		if err := r.sync(ctx, key); err != nil && ctx.Err() == nil {
			r.c.log.Warn("pod", "pod", key, "error", err)
			r.queue.AddRateLimited(key)
		} else {
			r.queue.Forget(key)
		}
		r.queue.Done(key)
	}
}

func (r *podRunner) sync(ctx context.Context, key string) error {
	ns, name, _ := strings.Cut(key, "/")
	pod, err := r.lister.Pods(ns).Get(name)
	if apierrors.IsNotFound(err) {
		r.stop(key, "")
		return nil
	}
	if err != nil {
		return err
	}
	r.mu.Lock()
	running := r.pods[key]
	stopped := r.stopped
	r.mu.Unlock()
	if running != nil && running.uid != pod.UID {
		// A new pod of the same name: the old one is gone.
		r.stop(key, running.uid)
		running = nil
	}
	switch {
	case stopped:
		return nil
	case pod.Spec.NodeName == "":
		return r.bind(ctx, pod)
	case pod.Spec.NodeName != r.c.opts.NodeName:
		return nil
	case pod.DeletionTimestamp != nil:
		r.stop(key, pod.UID)
		// What a kubelet does once the containers are gone: remove the
		// pod for good.
		err := r.c.Clientset.CoreV1().Pods(ns).Delete(ctx, name, metav1.DeleteOptions{
			GracePeriodSeconds: ptr.To[int64](0),
			Preconditions:      &metav1.Preconditions{UID: &pod.UID},
		})
		if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
			return fmt.Errorf("deleting: %w", err)
		}
		return nil
	case pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed:
		return nil
	case running == nil:
		return r.run(ctx, pod)
	}
	return nil
}

// bind plays the scheduler: every pod goes to the one node.
func (r *podRunner) bind(ctx context.Context, pod *corev1.Pod) error {
	if s := pod.Spec.SchedulerName; s != "" && s != corev1.DefaultSchedulerName {
		return nil
	}
	err := r.c.Clientset.CoreV1().Pods(pod.Namespace).Bind(ctx, &corev1.Binding{
		ObjectMeta: metav1.ObjectMeta{Name: pod.Name, Namespace: pod.Namespace, UID: pod.UID},
		Target:     corev1.ObjectReference{Kind: "Node", Name: r.c.opts.NodeName},
	}, metav1.CreateOptions{})
	if err != nil && !apierrors.IsConflict(err) && !apierrors.IsNotFound(err) {
		return fmt.Errorf("binding: %w", err)
	}
	return nil
}

// logs finds a container's output, for the kubelet endpoint.
func (r *podRunner) logs(namespace, pod, container string) *logBuffer {
	r.mu.Lock()
	defer r.mu.Unlock()
	p := r.pods[namespace+"/"+pod]
	if p == nil {
		return nil
	}
	for _, c := range p.containers {
		if c.spec.Name == container || container == "" {
			return c.logs
		}
	}
	return nil
}

// allocate reserves a pod number; its address is the PodCIDR's address
// 2+n (the bridge has 1).
func (r *podRunner) allocate() (int, netip.Addr, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	size := 1 << (32 - r.c.prefix.Bits())
	for range size {
		n := r.next
		r.next = (r.next + 1) % (size - 3)
		if r.inUse[n] {
			continue
		}
		ip := r.c.prefix.Addr()
		for range n + 2 {
			ip = ip.Next()
		}
		r.inUse[n] = true
		return n, ip, nil
	}
	return 0, netip.Addr{}, errors.New("the pod network is full")
}

func (r *podRunner) release(n int) {
	r.mu.Lock()
	delete(r.inUse, n)
	r.mu.Unlock()
}

// run starts a pod: its network, its volumes, its containers, and a first
// status report.
func (r *podRunner) run(ctx context.Context, pod *corev1.Pod) error {
	key := pod.Namespace + "/" + pod.Name
	n, ip, err := r.allocate()
	if err != nil {
		return err
	}
	p := &runningPod{
		uid: pod.UID, namespace: pod.Namespace, name: pod.Name, n: n, ip: ip,
		dir:      filepath.Join(r.c.workDir, "pods", pod.Namespace+"_"+pod.Name+"_"+string(pod.UID)),
		started:  metav1.Now(),
		stopping: make(chan struct{}),
	}
	if p.netns, err = r.c.podNetwork(ctx, n, ip); err != nil {
		r.release(n)
		return fmt.Errorf("pod network: %w", err)
	}
	cleanup := func() {
		for _, rc := range p.containers {
			if f, ok := rc.logs.file.(*os.File); ok {
				f.Close()
			}
		}
		_ = deletePodNetwork(p.netns, r.c.hostEnd(n))
		r.release(n)
	}
	if err := os.MkdirAll(p.dir, 0o755); err != nil {
		cleanup()
		return fmt.Errorf("pod folder: %w", err)
	}
	// Like a kubelet, wait (retry) until the Secrets and ConfigMaps the pod
	// mounts exist: suites often create them after the Deployment.
	mounts, err := r.writeVolumes(ctx, pod, p.dir)
	if err != nil {
		cleanup()
		return fmt.Errorf("volumes: %w", err)
	}
	for _, spec := range pod.Spec.Containers {
		prog, known := r.c.opts.Images[imageRepository(spec.Image)]
		rc := &runningContainer{spec: spec, program: prog, known: known, exited: make(chan struct{})}
		f, err := os.Create(filepath.Join(p.dir, spec.Name+".log"))
		if err != nil {
			cleanup()
			return fmt.Errorf("container log: %w", err)
		}
		rc.logs = &logBuffer{file: f}
		p.containers = append(p.containers, rc)
	}
	// Everything that can fail before a process starts comes first.
	envs := make([][]string, len(p.containers))
	argss := make([][]string, len(p.containers))
	for i, rc := range p.containers {
		if !rc.known {
			continue
		}
		if envs[i], err = r.containerEnv(ctx, pod, rc.spec, ip, mounts[rc.spec.Name]); err != nil {
			cleanup()
			return fmt.Errorf("container %s environment: %w", rc.spec.Name, err)
		}
		for _, a := range rc.spec.Args {
			argss[i] = append(argss[i], rewritePath(a, mounts[rc.spec.Name]))
		}
	}
	r.mu.Lock()
	r.pods[key] = p
	r.mu.Unlock()
	for i, rc := range p.containers {
		if !rc.known {
			r.c.log.Warn("no program for image: the container will not start", "pod", key, "image", rc.spec.Image)
			close(rc.exited)
			continue
		}
		rc.env = envs[i]
		go r.supervise(p, rc, envs[i], argss[i])
	}
	r.c.log.Info("pod started", "pod", key, "ip", ip)
	return r.reportStatus(ctx, p)
}

// supervise runs a container's program, restarts it when it exits (every
// pod here has restartPolicy Always in practice), and reports readiness.
func (r *podRunner) supervise(p *runningPod, rc *runningContainer, env, args []string) {
	defer close(rc.exited)
	backoff := time.Second
	for {
		cmd := exec.Command("ip", append([]string{"netns", "exec", p.netns, rc.program.Path}, args...)...)
		cmd.Env = env
		cmd.Dir = p.dir
		cmd.Stdout, cmd.Stderr = rc.logs, rc.logs
		// Its own process group, so a stop reaches children too; and it
		// dies with the cluster's process even if Stop never runs.
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
		rc.mu.Lock()
		select {
		case <-p.stopping:
			rc.mu.Unlock()
			return
		default:
		}
		err := cmd.Start()
		if err == nil {
			rc.cmd = cmd
			rc.since = metav1.Now()
		}
		rc.mu.Unlock()
		if err != nil {
			fmt.Fprintf(rc.logs, "localcluster: starting %s: %v\n", rc.program.Path, err)
		} else {
			done := make(chan struct{})
			go r.probe(p, rc, done)
			werr := cmd.Wait()
			close(done)
			code := int32(0)
			if cmd.ProcessState != nil {
				code = int32(cmd.ProcessState.ExitCode())
			}
			rc.mu.Lock()
			rc.cmd = nil
			rc.ready = false
			rc.lastExit = &corev1.ContainerStateTerminated{ExitCode: code, StartedAt: rc.since, FinishedAt: metav1.Now(), Reason: "Error"}
			rc.mu.Unlock()
			fmt.Fprintf(rc.logs, "localcluster: %s exited: %v\n", rc.spec.Name, werr)
		}
		select {
		case <-p.stopping:
			return
		default:
		}
		rc.mu.Lock()
		rc.restarts++
		rc.mu.Unlock()
		r.queueStatus(p)
		select {
		case <-p.stopping:
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 30*time.Second)
	}
}

// probe waits until the container is ready, then reports it.
func (r *podRunner) probe(p *runningPod, rc *runningContainer, done <-chan struct{}) {
	check := r.readinessCheck(p, rc)
	for {
		if check() {
			rc.mu.Lock()
			rc.ready = true
			rc.mu.Unlock()
			r.queueStatus(p)
			return
		}
		select {
		case <-done:
			return
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// readinessCheck follows the container's readiness probe (HTTP GET or TCP
// socket) when it has one, else the program's ReadyPort.
func (r *podRunner) readinessCheck(p *runningPod, rc *runningContainer) func() bool {
	tcp := func(port int) func() bool {
		return func() bool {
			conn, err := net.DialTimeout("tcp", netip.AddrPortFrom(p.ip, uint16(port)).String(), time.Second)
			if err != nil {
				return false
			}
			conn.Close()
			return true
		}
	}
	if probe := rc.spec.ReadinessProbe; probe != nil {
		switch {
		case probe.HTTPGet != nil:
			port := resolvePort(probe.HTTPGet.Port, rc.spec)
			client := &http.Client{Timeout: time.Second}
			scheme := "http"
			if probe.HTTPGet.Scheme == corev1.URISchemeHTTPS {
				scheme = "https"
			}
			url := scheme + "://" + netip.AddrPortFrom(p.ip, uint16(port)).String() + probe.HTTPGet.Path
			return func() bool {
				resp, err := client.Get(url)
				if err != nil {
					return false
				}
				resp.Body.Close()
				return resp.StatusCode >= 200 && resp.StatusCode < 400
			}
		case probe.TCPSocket != nil:
			return tcp(resolvePort(probe.TCPSocket.Port, rc.spec))
		}
	}
	if rc.program.ReadyPort != nil {
		if port := rc.program.ReadyPort(rc.env); port != 0 {
			return tcp(port)
		}
	}
	// Nothing to probe: give the program a moment to bind what it binds.
	start := time.Now()
	return func() bool { return time.Since(start) > 500*time.Millisecond }
}

func resolvePort(port intstr.IntOrString, c corev1.Container) int {
	if port.Type == intstr.Int {
		return port.IntValue()
	}
	for _, p := range c.Ports {
		if p.Name == port.StrVal {
			return int(p.ContainerPort)
		}
	}
	n, _ := strconv.Atoi(port.StrVal)
	return n
}

// queueStatus reports a pod's status from a goroutine of its own.
func (r *podRunner) queueStatus(p *runningPod) {
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := r.reportStatus(ctx, p); err != nil {
			select {
			case <-p.stopping:
			default:
				r.c.log.Warn("pod status", "pod", p.namespace+"/"+p.name, "error", err)
			}
		}
	}()
}

// reportStatus writes what a kubelet would: phase, addresses, conditions
// and one status per container.
func (r *podRunner) reportStatus(ctx context.Context, p *runningPod) error {
	pods := r.c.Clientset.CoreV1().Pods(p.namespace)
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		select {
		case <-p.stopping:
			return nil
		default:
		}
		pod, err := pods.Get(ctx, p.name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return nil
		}
		if err != nil {
			return err
		}
		if pod.UID != p.uid || pod.DeletionTimestamp != nil {
			return nil
		}
		allReady := true
		var statuses []corev1.ContainerStatus
		for _, rc := range p.containers {
			rc.mu.Lock()
			st := corev1.ContainerStatus{
				Name: rc.spec.Name, Image: rc.spec.Image, ImageID: rc.spec.Image,
				Ready: rc.ready, RestartCount: rc.restarts, Started: ptr.To(rc.cmd != nil),
				LastTerminationState: corev1.ContainerState{Terminated: rc.lastExit},
			}
			switch {
			case !rc.known:
				st.State.Waiting = &corev1.ContainerStateWaiting{Reason: "ImageNotMapped", Message: "no local program for image " + rc.spec.Image}
			case rc.cmd != nil:
				st.ContainerID = fmt.Sprintf("localcluster://%d", rc.cmd.Process.Pid)
				st.State.Running = &corev1.ContainerStateRunning{StartedAt: rc.since}
			default:
				st.State.Waiting = &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff"}
			}
			allReady = allReady && rc.ready
			rc.mu.Unlock()
			statuses = append(statuses, st)
		}
		ready := corev1.ConditionFalse
		if allReady {
			ready = corev1.ConditionTrue
		}
		cond := func(t corev1.PodConditionType, s corev1.ConditionStatus) corev1.PodCondition {
			c := corev1.PodCondition{Type: t, Status: s, LastTransitionTime: metav1.Now()}
			for _, old := range pod.Status.Conditions {
				if old.Type == t && old.Status == s {
					c.LastTransitionTime = old.LastTransitionTime
				}
			}
			return c
		}
		hostIP, podIP := r.c.bridgeIP.String(), p.ip.String()
		pod.Status.Phase = corev1.PodRunning
		pod.Status.HostIP, pod.Status.HostIPs = hostIP, []corev1.HostIP{{IP: hostIP}}
		pod.Status.PodIP, pod.Status.PodIPs = podIP, []corev1.PodIP{{IP: podIP}}
		pod.Status.StartTime = &p.started
		pod.Status.Conditions = []corev1.PodCondition{
			cond(corev1.PodScheduled, corev1.ConditionTrue),
			cond(corev1.PodReadyToStartContainers, corev1.ConditionTrue),
			cond(corev1.PodInitialized, corev1.ConditionTrue),
			cond(corev1.ContainersReady, ready),
			cond(corev1.PodReady, ready),
		}
		pod.Status.ContainerStatuses = statuses
		_, err = pods.UpdateStatus(ctx, pod, metav1.UpdateOptions{})
		return err
	})
}

// stop ends a pod's processes (SIGTERM, then SIGKILL after its grace, at
// most 5s) and removes its network. uid "" stops whatever runs under key.
func (r *podRunner) stop(key string, uid types.UID) {
	r.mu.Lock()
	p := r.pods[key]
	if p == nil || (uid != "" && p.uid != uid) {
		r.mu.Unlock()
		return
	}
	delete(r.pods, key)
	r.mu.Unlock()
	close(p.stopping)
	for _, rc := range p.containers {
		rc.mu.Lock()
		if rc.cmd != nil {
			_ = syscall.Kill(-rc.cmd.Process.Pid, syscall.SIGTERM)
		}
		rc.mu.Unlock()
	}
	deadline := time.After(5 * time.Second)
	for _, rc := range p.containers {
		select {
		case <-rc.exited:
		case <-deadline:
			rc.mu.Lock()
			if rc.cmd != nil {
				_ = syscall.Kill(-rc.cmd.Process.Pid, syscall.SIGKILL)
			}
			rc.mu.Unlock()
			<-rc.exited
		}
		if f, ok := rc.logs.file.(*os.File); ok {
			f.Close()
		}
	}
	killNetnsProcesses(p.netns)
	if err := deletePodNetwork(p.netns, r.c.hostEnd(p.n)); err != nil {
		r.c.log.Warn("removing a pod network", "pod", key, "error", err)
	}
	r.release(p.n)
	r.c.log.Info("pod stopped", "pod", key)
}

// stopAll stops every pod; no pod starts after it.
func (r *podRunner) stopAll() {
	r.mu.Lock()
	r.stopped = true
	keys := make([]string, 0, len(r.pods))
	for k := range r.pods {
		keys = append(keys, k)
	}
	r.mu.Unlock()
	slices.Sort(keys)
	var wg sync.WaitGroup
	for _, k := range keys {
		wg.Go(func() { r.stop(k, "") })
	}
	wg.Wait()
}

// imageRepository drops an image's tag or digest:
// "registry.k8s.io/gateway-api/echo-basic:v1.5.1" -> ".../echo-basic".
func imageRepository(image string) string {
	image, _, _ = strings.Cut(image, "@")
	if i := strings.LastIndexByte(image, ':'); i > strings.LastIndexByte(image, '/') {
		image = image[:i]
	}
	return image
}
