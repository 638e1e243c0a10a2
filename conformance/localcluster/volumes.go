package localcluster

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// mount is where a container expects a volume (mountPath) and where its
// files really are (local).
type mount struct {
	mountPath string
	local     string
}

// writeVolumes writes the pod's Secret and ConfigMap volumes (and makes its
// emptyDirs) under dir/volumes, and returns each container's mounts,
// longest mount path first.
func (r *podRunner) writeVolumes(ctx context.Context, pod *corev1.Pod, dir string) (map[string][]mount, error) {
	core := r.c.Clientset.CoreV1()
	local := map[string]string{}
	for _, v := range pod.Spec.Volumes {
		vdir := filepath.Join(dir, "volumes", v.Name)
		if err := os.MkdirAll(vdir, 0o755); err != nil {
			return nil, err
		}
		local[v.Name] = vdir
		var data map[string][]byte
		var items []corev1.KeyToPath
		switch {
		case v.Secret != nil:
			s, err := core.Secrets(pod.Namespace).Get(ctx, v.Secret.SecretName, metav1.GetOptions{})
			if err != nil {
				return nil, fmt.Errorf("secret volume %s: %w", v.Name, err)
			}
			data, items = s.Data, v.Secret.Items
		case v.ConfigMap != nil:
			cm, err := core.ConfigMaps(pod.Namespace).Get(ctx, v.ConfigMap.Name, metav1.GetOptions{})
			if err != nil {
				return nil, fmt.Errorf("configMap volume %s: %w", v.Name, err)
			}
			data = map[string][]byte{}
			for k, s := range cm.Data {
				data[k] = []byte(s)
			}
			for k, b := range cm.BinaryData {
				data[k] = b
			}
			items = v.ConfigMap.Items
		default:
			// emptyDir, and anything else: an empty folder.
			continue
		}
		paths := map[string]string{}
		if len(items) == 0 {
			for k := range data {
				paths[k] = k
			}
		}
		for _, it := range items {
			paths[it.Key] = it.Path
		}
		for k, p := range paths {
			b, ok := data[k]
			if !ok {
				return nil, fmt.Errorf("volume %s: no key %q", v.Name, k)
			}
			target := filepath.Join(vdir, filepath.Clean("/"+p))
			if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
				return nil, err
			}
			if err := os.WriteFile(target, b, 0o600); err != nil {
				return nil, err
			}
		}
	}
	mounts := map[string][]mount{}
	for _, c := range pod.Spec.Containers {
		var ms []mount
		for _, vm := range c.VolumeMounts {
			l, ok := local[vm.Name]
			if !ok {
				return nil, fmt.Errorf("container %s mounts the unknown volume %q", c.Name, vm.Name)
			}
			if vm.SubPath != "" {
				l = filepath.Join(l, filepath.Clean("/"+vm.SubPath))
			}
			ms = append(ms, mount{mountPath: strings.TrimSuffix(vm.MountPath, "/"), local: l})
		}
		slices.SortFunc(ms, func(a, b mount) int { return len(b.mountPath) - len(a.mountPath) })
		mounts[c.Name] = ms
	}
	return mounts, nil
}

// rewritePath points a path under a mount at the volume's local folder; any
// other value is returned as is.
func rewritePath(v string, mounts []mount) string {
	for _, m := range mounts {
		if v == m.mountPath {
			return m.local
		}
		if rest, ok := strings.CutPrefix(v, m.mountPath+"/"); ok {
			return filepath.Join(m.local, rest)
		}
	}
	return v
}

// containerEnv resolves a container's environment as a kubelet would (plain
// values, the downward API's fields, Secret and ConfigMap keys), with paths
// under mounts rewritten. $(VAR) references are not expanded.
func (r *podRunner) containerEnv(ctx context.Context, pod *corev1.Pod, c corev1.Container, ip netip.Addr, mounts []mount) ([]string, error) {
	env := []string{"PATH=/usr/local/bin:/usr/bin:/bin", "HOSTNAME=" + pod.Name, "HOME=/"}
	core := r.c.Clientset.CoreV1()
	for _, e := range c.Env {
		val := e.Value
		if from := e.ValueFrom; from != nil {
			switch {
			case from.FieldRef != nil:
				switch from.FieldRef.FieldPath {
				case "metadata.name":
					val = pod.Name
				case "metadata.namespace":
					val = pod.Namespace
				case "metadata.uid":
					val = string(pod.UID)
				case "spec.nodeName":
					val = r.c.opts.NodeName
				case "spec.serviceAccountName":
					val = pod.Spec.ServiceAccountName
				case "status.podIP", "status.podIPs":
					val = ip.String()
				case "status.hostIP", "status.hostIPs":
					val = r.c.bridgeIP.String()
				default:
					return nil, fmt.Errorf("env %s: fieldRef %q is not supported", e.Name, from.FieldRef.FieldPath)
				}
			case from.SecretKeyRef != nil:
				s, err := core.Secrets(pod.Namespace).Get(ctx, from.SecretKeyRef.Name, metav1.GetOptions{})
				if err != nil {
					return nil, fmt.Errorf("env %s: %w", e.Name, err)
				}
				val = string(s.Data[from.SecretKeyRef.Key])
			case from.ConfigMapKeyRef != nil:
				cm, err := core.ConfigMaps(pod.Namespace).Get(ctx, from.ConfigMapKeyRef.Name, metav1.GetOptions{})
				if err != nil {
					return nil, fmt.Errorf("env %s: %w", e.Name, err)
				}
				val = cm.Data[from.ConfigMapKeyRef.Key]
			default:
				return nil, fmt.Errorf("env %s: this valueFrom is not supported", e.Name)
			}
		}
		env = append(env, e.Name+"="+rewritePath(val, mounts))
	}
	return env, nil
}
