// Package localcluster runs a small Kubernetes cluster made of local
// processes, for conformance suites that need real Deployments, Pods and
// EndpointSlices without a container engine:
//
//   - kube-apiserver and etcd, started by controller-runtime's envtest;
//   - kube-controller-manager as a process, with only the controllers a
//     workload needs (Deployments -> ReplicaSets -> Pods, EndpointSlices,
//     garbage collection, namespace deletion);
//   - one Node, registered and kept Ready (its Lease renewed), whose
//     "kubelet" is this package: it binds unscheduled pods to the node,
//     starts each pod's containers as local programs in a network namespace
//     of its own (a veth pair on a bridge, a pod IP from a private range),
//     reports pod status (IP, Ready, container states) and serves the
//     captured output of each container as its logs.
//
// Images are mapped to local programs (Options.Images); a pod whose image
// has no mapping never becomes Ready and its container is reported Waiting
// with reason ImageNotMapped.
//
// Pod IPs cannot be loopback addresses (EndpointSlice validation rejects
// 127.0.0.0/8), hence the namespaces. Creating them needs root (or
// CAP_NET_ADMIN and CAP_SYS_ADMIN). Everything the cluster creates — the
// processes, the namespaces, the veths and the bridge — is removed by Stop,
// and the processes die with the one that started them (Pdeathsig). Stop
// must run even when a test fails: call it from a deferred function or
// t.Cleanup, and see CleanupOnSignal.
package localcluster

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// Options configures a cluster. AssetsDir is required; the rest has
// defaults.
type Options struct {
	// AssetsDir holds kube-apiserver, kube-controller-manager and etcd
	// (KUBEBUILDER_ASSETS).
	AssetsDir string
	// CRDDirs are folders of CRD manifests installed before Start returns.
	CRDDirs []string
	// WorkDir receives kubeconfigs, the controller-manager's log and one
	// folder per pod (volumes, container logs). Default: a temporary
	// folder, removed by Stop.
	WorkDir string
	// PodCIDR is the pods' network, an IPv4 prefix of at most /24. The
	// bridge takes its first address, which is also the node's address.
	// Default 10.244.0.0/16. Two clusters running at once need distinct
	// ranges.
	PodCIDR string
	// NodeName names the one Node. Default "local-node".
	NodeName string
	// Images maps an image (repository, without tag or digest) to the
	// program run for it.
	Images map[string]Program
	// Logger receives what the cluster does (pods started, stopped). Default:
	// discard.
	Logger *slog.Logger
}

// Program is what a container of a given image runs.
type Program struct {
	// Path of the executable. Container args are passed to it unchanged,
	// except that a path under a volume mount is rewritten to the folder
	// holding that volume's files (as are environment values).
	Path string
	// ReadyPort, if set, gives from the container's environment
	// ("NAME=value" entries) a TCP port that accepts connections once the
	// program is ready. A container without a readiness probe is reported
	// ready when that port accepts, or half a second after it started when
	// there is no such port.
	ReadyPort func(env []string) int
}

// Cluster is a running local cluster.
type Cluster struct {
	opts Options
	log  *slog.Logger
	env  *envtest.Environment
	// Config is the API server's address and admin credentials.
	Config *rest.Config
	// Kubeconfig is the path of a kubeconfig file for a system:masters
	// user, for processes that talk to the cluster.
	Kubeconfig string
	// Clientset talks to the API server as Config.
	Clientset *kubernetes.Clientset

	id       string
	workDir  string
	ownWork  bool
	prefix   netip.Prefix
	bridgeIP netip.Addr
	bridge   string

	cancel  context.CancelFunc
	wg      sync.WaitGroup
	kcm     *exec.Cmd
	kcmDone chan struct{}
	runner  *podRunner
	kubelet *kubeletServer

	stopOnce sync.Once
	stopErr  error
}

// Start brings the cluster up: API server and etcd, CRDs, the node, the
// network, the pod runner and the controller-manager. On error it removes
// whatever it had created.
func Start(ctx context.Context, opts Options) (c *Cluster, err error) {
	if opts.AssetsDir == "" {
		return nil, errors.New("localcluster: AssetsDir (KUBEBUILDER_ASSETS) is required")
	}
	if os.Geteuid() != 0 {
		return nil, errors.New("localcluster: network namespaces need root")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		return nil, fmt.Errorf("localcluster: the ip command (iproute2) is required: %w", err)
	}
	if opts.PodCIDR == "" {
		opts.PodCIDR = "10.244.0.0/16"
	}
	if opts.NodeName == "" {
		opts.NodeName = "local-node"
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	prefix, err := netip.ParsePrefix(opts.PodCIDR)
	if err != nil || !prefix.Addr().Is4() || prefix.Bits() > 24 || prefix.Addr().IsLoopback() || prefix.Addr().IsLinkLocalUnicast() {
		return nil, fmt.Errorf("localcluster: PodCIDR %q must be an IPv4 prefix of at most /24, neither loopback nor link-local", opts.PodCIDR)
	}
	prefix = prefix.Masked()
	c = &Cluster{
		opts:     opts,
		log:      log,
		id:       fmt.Sprintf("%04x", os.Getpid()&0xffff),
		prefix:   prefix,
		bridgeIP: prefix.Addr().Next(),
		workDir:  opts.WorkDir,
	}
	c.bridge = "lgbr" + c.id
	defer func() {
		if err != nil {
			if stopErr := c.Stop(); stopErr != nil {
				log.Error("cleaning up after a failed start", "error", stopErr)
			}
			c = nil
		}
	}()
	if c.workDir == "" {
		if c.workDir, err = os.MkdirTemp("", "legate-localcluster-"); err != nil {
			return c, fmt.Errorf("localcluster: work folder: %w", err)
		}
		c.ownWork = true
	} else if err := os.MkdirAll(c.workDir, 0o755); err != nil {
		return c, fmt.Errorf("localcluster: work folder: %w", err)
	}

	if err := c.startNetwork(ctx); err != nil {
		return c, err
	}
	if err := c.startAPIServer(); err != nil {
		return c, err
	}
	runCtx, cancel := context.WithCancel(context.Background())
	c.cancel = cancel
	if c.kubelet, err = startKubelet(c.bridgeIP, c.log); err != nil {
		return c, err
	}
	if err := c.registerNode(ctx); err != nil {
		return c, err
	}
	c.wg.Go(func() { c.heartbeat(runCtx) })
	c.runner = newPodRunner(c)
	c.kubelet.logs = c.runner.logs
	if err := c.runner.start(runCtx); err != nil {
		return c, err
	}
	if err := c.startControllerManager(); err != nil {
		return c, err
	}
	return c, nil
}

// NodeIP is the node's address (the bridge's), also the host's address on
// the pod network.
func (c *Cluster) NodeIP() netip.Addr { return c.bridgeIP }

// NodeName is the name of the one Node.
func (c *Cluster) NodeName() string { return c.opts.NodeName }

// WorkDir is the cluster's work folder.
func (c *Cluster) WorkDir() string { return c.workDir }

func (c *Cluster) startAPIServer() error {
	c.env = &envtest.Environment{
		BinaryAssetsDirectory:    c.opts.AssetsDir,
		CRDDirectoryPaths:        c.opts.CRDDirs,
		ErrorIfCRDPathMissing:    true,
		ControlPlaneStartTimeout: time.Minute,
		ControlPlaneStopTimeout:  30 * time.Second,
	}
	api := c.env.ControlPlane.GetAPIServer()
	// Room for the Services of a conformance run, away from the pods.
	api.Configure().Set("service-cluster-ip-range", "10.96.0.0/16")
	// Draining open watches would otherwise hold Stop for up to a minute.
	api.Configure().Set("shutdown-send-retry-after", "true")
	cfg, err := c.env.Start()
	if err != nil {
		return fmt.Errorf("localcluster: starting kube-apiserver and etcd: %w", err)
	}
	cfg = rest.CopyConfig(cfg)
	cfg.QPS, cfg.Burst = 200, 400
	c.Config = cfg
	if c.Clientset, err = kubernetes.NewForConfig(cfg); err != nil {
		return fmt.Errorf("localcluster: client: %w", err)
	}
	user, err := c.env.AddUser(envtest.User{Name: "local-admin", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		return fmt.Errorf("localcluster: adding a user: %w", err)
	}
	kc, err := user.KubeConfig()
	if err != nil {
		return fmt.Errorf("localcluster: kubeconfig: %w", err)
	}
	c.Kubeconfig = filepath.Join(c.workDir, "kubeconfig")
	if err := os.WriteFile(c.Kubeconfig, kc, 0o600); err != nil {
		return fmt.Errorf("localcluster: kubeconfig: %w", err)
	}
	return nil
}

// controllers are those a workload of Deployments and Services needs, and
// the two that clean up after it; nothing that needs a cloud, a scheduler
// or service-account keys.
var controllers = []string{
	"deployment-controller",
	"replicaset-controller",
	"endpointslice-controller",
	"garbage-collector-controller",
	"namespace-controller",
}

func (c *Cluster) startControllerManager() error {
	logFile, err := os.Create(filepath.Join(c.workDir, "kube-controller-manager.log"))
	if err != nil {
		return fmt.Errorf("localcluster: controller-manager log: %w", err)
	}
	cmd := exec.Command(filepath.Join(c.opts.AssetsDir, "kube-controller-manager"),
		"--kubeconfig="+c.Kubeconfig,
		"--controllers="+strings.Join(controllers, ","),
		"--leader-elect=false",
		"--secure-port=0",
		"--use-service-account-credentials=false",
		// Conformance runs create and delete many small Deployments.
		"--concurrent-deployment-syncs=10",
		"--concurrent-replicaset-syncs=10",
		"--concurrent-service-endpoint-syncs=10",
		"--concurrent-namespace-syncs=5",
		"--endpointslice-updates-batch-period=0s",
		"--v=1",
	)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return fmt.Errorf("localcluster: starting kube-controller-manager: %w", err)
	}
	c.kcm = cmd
	c.kcmDone = make(chan struct{})
	go func() {
		err := cmd.Wait()
		logFile.Close()
		c.log.Info("kube-controller-manager exited", "error", err)
		close(c.kcmDone)
	}()
	return nil
}

// Stop removes everything Start created, in the reverse order: the
// controller-manager first (so it stops making pods), then the pods, the
// node's goroutines, the API server, the network and the work folder. It
// returns the first error but tries every step; calling it again returns
// the same result.
func (c *Cluster) Stop() error {
	c.stopOnce.Do(func() {
		var errs []error
		if c.kcm != nil && c.kcm.Process != nil {
			_ = syscall.Kill(-c.kcm.Process.Pid, syscall.SIGTERM)
			select {
			case <-c.kcmDone:
			case <-time.After(5 * time.Second):
				_ = syscall.Kill(-c.kcm.Process.Pid, syscall.SIGKILL)
				<-c.kcmDone
			}
		}
		if c.runner != nil {
			c.runner.stopAll()
		}
		if c.cancel != nil {
			c.cancel()
		}
		c.wg.Wait()
		if c.kubelet != nil {
			c.kubelet.close()
		}
		if c.env != nil && c.Config != nil {
			if err := c.env.Stop(); err != nil {
				errs = append(errs, fmt.Errorf("stopping kube-apiserver and etcd: %w", err))
			}
		}
		if err := c.stopNetwork(); err != nil {
			errs = append(errs, err)
		}
		if c.ownWork && c.workDir != "" {
			if err := os.RemoveAll(c.workDir); err != nil {
				errs = append(errs, err)
			}
		}
		c.stopErr = errors.Join(errs...)
	})
	return c.stopErr
}
