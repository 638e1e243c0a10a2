// Package supervisor runs Envoy as a child process of `legate serve --envoy`:
// it starts Envoy with a generated bootstrap, restarts it with backoff when it
// dies, and stops it when Legate stops. This is the single-container shape: a
// pod holds Legate and its Envoy, and neither outlives the other.
package supervisor

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"syscall"
	"time"
)

// Options say how to run Envoy.
type Options struct {
	// Path is the Envoy binary.
	Path string
	// Bootstrap is the path of the bootstrap file.
	Bootstrap string
	// LogLevel is Envoy's --log-level (default "warning").
	LogLevel string
	// ExtraArgs are appended to Envoy's command line.
	ExtraArgs []string
	// Stdout and Stderr receive Envoy's output (default: Legate's).
	Stdout, Stderr io.Writer
	Logger         *slog.Logger
	// MinBackoff and MaxBackoff bound the wait before a restart.
	MinBackoff, MaxBackoff time.Duration
	// StopTimeout is how long Envoy gets to drain after SIGTERM.
	StopTimeout time.Duration
	// OnStart, if set, is told of every Envoy process started.
	OnStart func(*os.Process)
}

// FindEnvoy returns the Envoy binary to run: explicit if set, else the
// LEGATE_ENVOY environment variable, else "envoy" on PATH.
func FindEnvoy(explicit string) (string, error) {
	if explicit != "" {
		return explicit, nil
	}
	if p := os.Getenv("LEGATE_ENVOY"); p != "" {
		return p, nil
	}
	p, err := exec.LookPath("envoy")
	if err != nil {
		return "", fmt.Errorf("no Envoy binary: set --envoy-path or LEGATE_ENVOY, or put envoy on PATH (hack/install-envoy.sh installs it): %w", err)
	}
	return p, nil
}

// Run keeps Envoy running until ctx is done, then stops it and returns nil.
// It returns an error only if Envoy cannot be started at all.
func Run(ctx context.Context, o Options) error {
	o.defaults()
	backoff := o.MinBackoff
	for {
		started := time.Now()
		cmd, err := o.start()
		if err != nil {
			return err
		}
		o.Logger.Info("envoy started", "pid", cmd.Process.Pid, "bootstrap", o.Bootstrap)
		if o.OnStart != nil {
			o.OnStart(cmd.Process)
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()

		select {
		case <-ctx.Done():
			o.stop(cmd, done)
			return nil
		case err := <-done:
			if ctx.Err() != nil {
				return nil
			}
			// A long healthy run resets the backoff; a crash loop grows it.
			if time.Since(started) > 10*o.MaxBackoff {
				backoff = o.MinBackoff
			}
			o.Logger.Error("envoy exited; restarting", "err", err, "after", backoff)
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, o.MaxBackoff)
		}
	}
}

func (o *Options) defaults() {
	if o.LogLevel == "" {
		o.LogLevel = "warning"
	}
	if o.Stdout == nil {
		o.Stdout = os.Stdout
	}
	if o.Stderr == nil {
		o.Stderr = os.Stderr
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.MinBackoff == 0 {
		o.MinBackoff = 200 * time.Millisecond
	}
	if o.MaxBackoff == 0 {
		o.MaxBackoff = 10 * time.Second
	}
	if o.StopTimeout == 0 {
		o.StopTimeout = 10 * time.Second
	}
}

func (o *Options) start() (*exec.Cmd, error) {
	args := append([]string{
		"-c", o.Bootstrap,
		"--log-level", o.LogLevel,
		// One Envoy per Legate: no hot restart, so no shared memory that
		// would clash with another Envoy on the same host.
		"--disable-hot-restart",
	}, o.ExtraArgs...)
	cmd := exec.Command(o.Path, args...)
	cmd.Stdout, cmd.Stderr = o.Stdout, o.Stderr
	// If Legate dies without stopping Envoy, the kernel stops it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting envoy %s: %w", o.Path, err)
	}
	return cmd, nil
}

func (o *Options) stop(cmd *exec.Cmd, done <-chan error) {
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-done:
		var exit *exec.ExitError
		if err != nil && !errors.As(err, &exit) {
			o.Logger.Warn("envoy stop", "err", err)
		}
	case <-time.After(o.StopTimeout):
		o.Logger.Warn("envoy did not stop in time; killing it", "timeout", o.StopTimeout)
		_ = cmd.Process.Kill()
		<-done
	}
	o.Logger.Info("envoy stopped")
}
