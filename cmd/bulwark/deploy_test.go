package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/bulwark-dns/bulwark/internal/testfile"
)

// The deployment files these tests hold to the binary.
var (
	systemdUnitPath   = filepath.Join("..", "..", "configs", "systemd", "bulwark.service")
	systemdConfigPath = filepath.Join("..", "..", "configs", "systemd", "bulwark.yaml")
	kubernetesDir     = filepath.Join("..", "..", "configs", "kubernetes")
)

// systemdUnit is a parsed unit file: section -> key -> values in order
// (a key may repeat, e.g. SystemCallFilter).
type systemdUnit map[string]map[string][]string

func parseSystemdUnit(r io.Reader) (systemdUnit, error) {
	u := systemdUnit{}
	section := ""
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || line[0] == '#' || line[0] == ';':
		case line[0] == '[' && line[len(line)-1] == ']':
			section = line[1 : len(line)-1]
			u[section] = map[string][]string{}
		case section == "":
			return nil, fmt.Errorf("line %d: %q before any [section]", n, line)
		default:
			k, v, ok := strings.Cut(line, "=")
			if !ok || strings.HasSuffix(line, `\`) {
				return nil, fmt.Errorf("line %d: %q is not KEY=VALUE on one line", n, line)
			}
			k = strings.TrimSpace(k)
			u[section][k] = append(u[section][k], strings.TrimSpace(v))
		}
	}
	return u, sc.Err()
}

// last is the value systemd uses for a single-valued key.
func (u systemdUnit) last(section, key string) string {
	vs := u[section][key]
	if len(vs) == 0 {
		return ""
	}
	return vs[len(vs)-1]
}

func loadSystemdUnit(t *testing.T) systemdUnit {
	t.Helper()
	f, err := os.Open(systemdUnitPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	u, err := parseSystemdUnit(f)
	if err != nil {
		t.Fatalf("%s: %v", systemdUnitPath, err)
	}
	return u
}

func TestParseSystemdUnit(t *testing.T) {
	u, err := parseSystemdUnit(strings.NewReader("# c\n[Service]\nA=1\nA=2\n; c\nB = x y\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got := u["Service"]["A"]; !slices.Equal(got, []string{"1", "2"}) || u.last("Service", "A") != "2" || u.last("Service", "B") != "x y" {
		t.Errorf("parsed %v", u)
	}
	for _, bad := range []string{"A=1\n", "[S]\nnot a setting\n", "[S]\nA=1 \\\n  2\n"} {
		if _, err := parseSystemdUnit(strings.NewReader(bad)); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

// TestSystemdUnitHardening pins the unit's security settings: the service
// gets one capability, a transient user and a read-only system.
func TestSystemdUnitHardening(t *testing.T) {
	u := loadSystemdUnit(t)
	want := map[string]string{
		"Type":                    "exec",
		"ExecStart":               "/usr/local/bin/bulwark serve -config /etc/bulwark/bulwark.yaml",
		"ExecReload":              "/bin/kill -HUP $MAINPID",
		"Restart":                 "on-failure",
		"DynamicUser":             "yes",
		"CapabilityBoundingSet":   "CAP_NET_BIND_SERVICE",
		"AmbientCapabilities":     "CAP_NET_BIND_SERVICE",
		"NoNewPrivileges":         "yes",
		"ProtectSystem":           "strict",
		"ProtectHome":             "yes",
		"PrivateTmp":              "yes",
		"PrivateDevices":          "yes",
		"ProtectKernelTunables":   "yes",
		"ProtectKernelModules":    "yes",
		"ProtectKernelLogs":       "yes",
		"ProtectControlGroups":    "yes",
		"RestrictAddressFamilies": "AF_INET AF_INET6 AF_UNIX",
		"RestrictNamespaces":      "yes",
		"MemoryDenyWriteExecute":  "yes",
		"StateDirectory":          "bulwark",
		"LogsDirectory":           "bulwark",
	}
	for k, v := range want {
		if got := u.last("Service", k); got != v {
			t.Errorf("[Service] %s=%q, want %q", k, got, v)
		}
	}
	if u.last("Service", "LimitNOFILE") == "" {
		t.Error("[Service] LimitNOFILE unset: max_tcp_conns needs descriptors")
	}
	if u.last("Install", "WantedBy") != "multi-user.target" {
		t.Error("[Install] WantedBy=multi-user.target missing: systemctl enable would do nothing")
	}
}

// TestSystemdExampleConfig checks the config the unit runs: `bulwark check`
// accepts it, and everything it writes lies in a directory the unit makes
// writable (ProtectSystem=strict makes the rest read-only, so a block log
// anywhere else would fail at start).
func TestSystemdExampleConfig(t *testing.T) {
	u := loadSystemdUnit(t)
	writable := map[string]string{} // directory in production -> test stand-in
	root := t.TempDir()
	for key, base := range map[string]string{"StateDirectory": "/var/lib", "LogsDirectory": "/var/log", "CacheDirectory": "/var/cache", "RuntimeDirectory": "/run"} {
		for _, v := range u[`Service`][key] {
			for _, d := range strings.Fields(v) {
				prod := filepath.Join(base, d)
				writable[prod] = filepath.Join(root, prod)
				if err := os.MkdirAll(writable[prod], 0o755); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	data := testfile.Read(t, systemdConfigPath)
	var cfg struct {
		Log struct {
			Blocked string `yaml:"blocked"`
			Queries string `yaml:"queries"`
		} `yaml:"log"`
		Feeds struct {
			CacheDir string `yaml:"cache_dir"`
		} `yaml:"feeds"`
	}
	if err := yaml.Unmarshal(data, &cfg); err != nil {
		t.Fatalf("%s: %v", systemdConfigPath, err)
	}
	for key, p := range map[string]string{"log.blocked": cfg.Log.Blocked, "log.queries": cfg.Log.Queries, "feeds.cache_dir": cfg.Feeds.CacheDir} {
		switch p {
		case "", "stdout", "stderr", "off":
			continue
		}
		if !slices.ContainsFunc(keys(writable), func(dir string) bool { return p == dir || strings.HasPrefix(p, dir+"/") }) {
			t.Errorf("%s: %s %q is outside the unit's writable directories %v", systemdConfigPath, key, p, keys(writable))
		}
	}

	// Serve the config from a stand-in /etc/bulwark with the writable
	// directories created, as systemd would.
	text := string(data)
	for prod, stand := range writable {
		text = strings.ReplaceAll(text, prod, stand)
	}
	cfgPath := filepath.Join(root, "etc", "bulwark", "bulwark.yaml")
	if err := os.MkdirAll(filepath.Dir(cfgPath), 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, cfgPath, text)
	if out, err := exec.Command(bulwarkBinary(t), "check", "-config", cfgPath).CombinedOutput(); err != nil {
		t.Errorf("bulwark check %s: %v\n%s", systemdConfigPath, err, out)
	}
	// The unit and the example agree on where the config lives.
	if !strings.Contains(u.last("Service", "ExecStart"), "-config /etc/bulwark/"+filepath.Base(systemdConfigPath)) {
		t.Errorf("ExecStart %q does not serve /etc/bulwark/%s", u.last("Service", "ExecStart"), filepath.Base(systemdConfigPath))
	}
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// TestSystemdAnalyze has systemd itself verify the unit and score its
// exposure, when systemd-analyze is installed. The binary path is pointed
// at the test build (verify checks that ExecStart exists).
func TestSystemdAnalyze(t *testing.T) {
	sa, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("systemd-analyze not installed")
	}
	data := testfile.Read(t, systemdUnitPath)
	unit := filepath.Join(t.TempDir(), "bulwark.service")
	if err := os.WriteFile(unit, bytes.ReplaceAll(data, []byte("/usr/local/bin/bulwark"), []byte(bulwarkBinary(t))), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(sa, "verify", unit).CombinedOutput()
	if err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
	// Exposure 0 (locked down) to 10 (unprotected); systemd calls up to
	// 2.0 "OK". --threshold is in tenths.
	out, err = exec.Command(sa, "security", "--offline=true", "--threshold=20", unit).CombinedOutput()
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		t.Errorf("systemd-analyze security: exposure above 2.0: %v\n%s", err, lastLines(out, 3))
	case err != nil:
		t.Fatalf("systemd-analyze security: %v\n%s", err, out)
	default:
		t.Logf("systemd-analyze security: %s", lastLines(out, 1))
	}
}

func lastLines(b []byte, n int) string {
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// Kubernetes objects, only the fields the tests check.
type k8sObject struct {
	APIVersion string `yaml:"apiVersion"`
	Kind       string `yaml:"kind"`
	Metadata   struct {
		Name      string            `yaml:"name"`
		Namespace string            `yaml:"namespace"`
		Labels    map[string]string `yaml:"labels"`
	} `yaml:"metadata"`
	Spec yaml.Node `yaml:"spec"`
	file string
}

type k8sSelector struct {
	MatchLabels map[string]string `yaml:"matchLabels"`
}

type k8sProbe struct {
	HTTPGet *struct {
		Path string    `yaml:"path"`
		Port yaml.Node `yaml:"port"`
	} `yaml:"httpGet"`
}

type k8sContainerPort struct {
	Name          string `yaml:"name"`
	ContainerPort int    `yaml:"containerPort"`
	Protocol      string `yaml:"protocol"`
}

type k8sContainer struct {
	Name  string             `yaml:"name"`
	Image string             `yaml:"image"`
	Args  []string           `yaml:"args"`
	Ports []k8sContainerPort `yaml:"ports"`
	Env   []struct {
		Name  string `yaml:"name"`
		Value string `yaml:"value"`
	} `yaml:"env"`
	Resources struct {
		Requests map[string]string `yaml:"requests"`
		Limits   map[string]string `yaml:"limits"`
	} `yaml:"resources"`
	SecurityContext struct {
		AllowPrivilegeEscalation *bool `yaml:"allowPrivilegeEscalation"`
		ReadOnlyRootFilesystem   *bool `yaml:"readOnlyRootFilesystem"`
		Capabilities             struct {
			Drop []string `yaml:"drop"`
			Add  []string `yaml:"add"`
		} `yaml:"capabilities"`
	} `yaml:"securityContext"`
	ReadinessProbe *k8sProbe `yaml:"readinessProbe"`
	LivenessProbe  *k8sProbe `yaml:"livenessProbe"`
	StartupProbe   *k8sProbe `yaml:"startupProbe"`
	VolumeMounts   []struct {
		Name      string `yaml:"name"`
		MountPath string `yaml:"mountPath"`
	} `yaml:"volumeMounts"`
}

type k8sDeploymentSpec struct {
	Replicas int         `yaml:"replicas"`
	Selector k8sSelector `yaml:"selector"`
	Template struct {
		Metadata struct {
			Labels map[string]string `yaml:"labels"`
		} `yaml:"metadata"`
		Spec struct {
			SecurityContext struct {
				RunAsNonRoot *bool `yaml:"runAsNonRoot"`
			} `yaml:"securityContext"`
			Affinity struct {
				PodAntiAffinity *yaml.Node `yaml:"podAntiAffinity"`
			} `yaml:"affinity"`
			Containers []k8sContainer `yaml:"containers"`
			Volumes    []struct {
				Name      string `yaml:"name"`
				ConfigMap *struct {
					Name string `yaml:"name"`
				} `yaml:"configMap"`
				EmptyDir *yaml.Node `yaml:"emptyDir"`
			} `yaml:"volumes"`
		} `yaml:"spec"`
	} `yaml:"template"`
}

type k8sServiceSpec struct {
	Type                  string            `yaml:"type"`
	ExternalTrafficPolicy string            `yaml:"externalTrafficPolicy"`
	Selector              map[string]string `yaml:"selector"`
	Ports                 []struct {
		Name       string    `yaml:"name"`
		Port       int       `yaml:"port"`
		TargetPort yaml.Node `yaml:"targetPort"`
		Protocol   string    `yaml:"protocol"`
	} `yaml:"ports"`
}

type k8sPDBSpec struct {
	MaxUnavailable *int        `yaml:"maxUnavailable"`
	MinAvailable   *int        `yaml:"minAvailable"`
	Selector       k8sSelector `yaml:"selector"`
}

type k8sKustomization struct {
	Namespace          string   `yaml:"namespace"`
	Resources          []string `yaml:"resources"`
	ConfigMapGenerator []struct {
		Name  string   `yaml:"name"`
		Files []string `yaml:"files"`
	} `yaml:"configMapGenerator"`
	Images []struct {
		Name string `yaml:"name"`
	} `yaml:"images"`
}

// decodeYAMLDocs decodes every document of a multi-document YAML stream.
func decodeYAMLDocs(r io.Reader, file string) ([]k8sObject, error) {
	var out []k8sObject
	dec := yaml.NewDecoder(r)
	for {
		var o k8sObject
		err := dec.Decode(&o)
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", file, err)
		}
		if o.Kind == "" && o.APIVersion == "" {
			continue // an empty document
		}
		o.file = file
		out = append(out, o)
	}
}

func decodeSpec[T any](t *testing.T, o k8sObject) T {
	t.Helper()
	var spec T
	if err := o.Spec.Decode(&spec); err != nil {
		t.Fatalf("%s: %s %s spec: %v", o.file, o.Kind, o.Metadata.Name, err)
	}
	return spec
}

// loadKustomization reads the kustomization and every manifest it lists,
// checking each object's identity and namespace, and returns the objects
// by kind.
func loadKustomization(t *testing.T) (k8sKustomization, map[string][]k8sObject) {
	t.Helper()
	kdata := testfile.Read(t, filepath.Join(kubernetesDir, "kustomization.yaml"))
	var kust k8sKustomization
	if err := yaml.Unmarshal(kdata, &kust); err != nil {
		t.Fatalf("kustomization.yaml: %v", err)
	}
	byKind := map[string][]k8sObject{}
	for _, res := range kust.Resources {
		f, err := os.Open(filepath.Join(kubernetesDir, res))
		if err != nil {
			t.Fatal(err)
		}
		objs, err := decodeYAMLDocs(f, res)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range objs {
			if o.APIVersion == "" || o.Kind == "" || o.Metadata.Name == "" {
				t.Errorf("%s: an object without apiVersion, kind or metadata.name", res)
			}
			if o.Metadata.Namespace != "" && o.Metadata.Namespace != kust.Namespace {
				t.Errorf("%s: %s in namespace %q, the kustomization's is %q", res, o.Kind, o.Metadata.Namespace, kust.Namespace)
			}
			byKind[o.Kind] = append(byKind[o.Kind], o)
		}
	}
	return kust, byKind
}

// TestKubernetesManifests reads the kustomization and every manifest it
// lists, and checks what has to agree across them: Service, container and
// config ports; probes on the admin address; the config mount; labels and
// selectors; the pod's security settings. The generated ConfigMap's
// bulwark.yaml must pass `bulwark check`.
func TestKubernetesManifests(t *testing.T) {
	kust, byKind := loadKustomization(t)
	for _, kind := range []string{"Namespace", "Deployment", "Service", "PodDisruptionBudget", "PodMonitor", "PrometheusRule"} {
		if len(byKind[kind]) != 1 {
			t.Fatalf("%d %s objects, want 1", len(byKind[kind]), kind)
		}
	}
	if ns := byKind["Namespace"][0].Metadata.Name; ns != kust.Namespace {
		t.Errorf("Namespace %q, kustomization namespace %q", ns, kust.Namespace)
	}

	// The config, as the ConfigMap generator packs it.
	if len(kust.ConfigMapGenerator) != 1 || len(kust.ConfigMapGenerator[0].Files) != 1 {
		t.Fatalf("configMapGenerator %+v: want one ConfigMap from one file", kust.ConfigMapGenerator)
	}
	cmName, cfgFile := kust.ConfigMapGenerator[0].Name, kust.ConfigMapGenerator[0].Files[0]
	cfgPath := filepath.Join(kubernetesDir, cfgFile)
	if out, err := exec.Command(bulwarkBinary(t), "check", "-config", cfgPath).CombinedOutput(); err != nil {
		t.Errorf("bulwark check %s: %v\n%s", cfgPath, err, out)
	}
	cdata := testfile.Read(t, cfgPath)
	var bcfg struct {
		Listen struct {
			DNS   []string `yaml:"dns"`
			Admin string   `yaml:"admin"`
		} `yaml:"listen"`
		Feeds struct {
			CacheDir string `yaml:"cache_dir"`
		} `yaml:"feeds"`
		Log struct {
			Blocked string `yaml:"blocked"`
			Queries string `yaml:"queries"`
		} `yaml:"log"`
	}
	if err := yaml.Unmarshal(cdata, &bcfg); err != nil {
		t.Fatal(err)
	}

	dep := decodeSpec[k8sDeploymentSpec](t, byKind["Deployment"][0])
	pod := dep.Template.Spec
	if dep.Replicas < 3 {
		t.Errorf("Deployment replicas %d, want at least 3", dep.Replicas)
	}
	podLabels := dep.Template.Metadata.Labels
	if !selects(dep.Selector.MatchLabels, podLabels) {
		t.Errorf("Deployment selector %v does not select its pods %v", dep.Selector.MatchLabels, podLabels)
	}
	if pod.Affinity.PodAntiAffinity == nil {
		t.Error("no podAntiAffinity: replicas may share a node")
	}
	if pod.SecurityContext.RunAsNonRoot == nil || !*pod.SecurityContext.RunAsNonRoot {
		t.Error("pod securityContext.runAsNonRoot is not true")
	}
	if len(pod.Containers) != 1 {
		t.Fatalf("%d containers, want 1", len(pod.Containers))
	}
	c := pod.Containers[0]
	sc := c.SecurityContext
	if sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem || sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation ||
		!slices.Equal(sc.Capabilities.Drop, []string{"ALL"}) || len(sc.Capabilities.Add) > 0 {
		t.Errorf("container securityContext %+v: want a read-only root, no privilege escalation, every capability dropped", sc)
	}
	if !slices.ContainsFunc(kust.Images, func(i struct {
		Name string `yaml:"name"`
	}) bool {
		return i.Name == c.Image
	}) {
		t.Errorf("image %q is not set by the kustomization's images", c.Image)
	}
	if c.Resources.Requests["cpu"] == "" || c.Resources.Requests["memory"] == "" || c.Resources.Limits["memory"] == "" {
		t.Errorf("resources %+v: want cpu and memory requests and a memory limit", c.Resources)
	}
	for _, e := range c.Env {
		if e.Name == "GOMEMLIMIT" {
			soft, err1 := parseQuantity(e.Value)
			hard, err2 := parseQuantity(c.Resources.Limits["memory"])
			if err1 != nil || err2 != nil || soft >= hard {
				t.Errorf("GOMEMLIMIT %q must be below the memory limit %q", e.Value, c.Resources.Limits["memory"])
			}
		}
	}

	// Ports: the config's DNS addresses, the container's dns-udp/dns-tcp,
	// and the Service's 53/UDP and 53/TCP are one port.
	portOf := func(name, proto string) int {
		for _, p := range c.Ports {
			if p.Name == name && (p.Protocol == proto || (p.Protocol == "" && proto == "TCP")) {
				return p.ContainerPort
			}
		}
		return 0
	}
	dnsUDP, dnsTCP, adminPort := portOf("dns-udp", "UDP"), portOf("dns-tcp", "TCP"), portOf("admin", "TCP")
	if dnsUDP == 0 || dnsUDP != dnsTCP {
		t.Errorf("container ports dns-udp %d/UDP and dns-tcp %d/TCP: want one port for both", dnsUDP, dnsTCP)
	}
	if len(bcfg.Listen.DNS) == 0 {
		t.Errorf("%s: no listen.dns", cfgFile)
	}
	for _, a := range bcfg.Listen.DNS {
		ap, err := netip.ParseAddrPort(a)
		if err != nil || int(ap.Port()) != dnsUDP || ap.Addr().IsLoopback() {
			t.Errorf("%s: listen.dns %q: want a non-loopback address on the container's DNS port %d", cfgFile, a, dnsUDP)
		}
	}
	if ap, err := netip.ParseAddrPort(bcfg.Listen.Admin); err != nil || int(ap.Port()) != adminPort || ap.Addr().IsLoopback() {
		t.Errorf("%s: listen.admin %q: want a non-loopback address on the container's admin port %d (the kubelet probes the pod's address)", cfgFile, bcfg.Listen.Admin, adminPort)
	}

	svc := decodeSpec[k8sServiceSpec](t, byKind["Service"][0])
	if !selects(svc.Selector, podLabels) {
		t.Errorf("Service selector %v does not select the pods %v", svc.Selector, podLabels)
	}
	if svc.ExternalTrafficPolicy != "Local" {
		t.Errorf("Service externalTrafficPolicy %q: want Local, so the ACL, rate limit and block log see client addresses", svc.ExternalTrafficPolicy)
	}
	served := map[string]bool{}
	for _, p := range svc.Ports {
		target := 0
		if n, err := strconv.Atoi(p.TargetPort.Value); err == nil {
			target = n
		} else {
			target = portOf(p.TargetPort.Value, p.Protocol)
		}
		if p.Port != 53 || target != dnsUDP {
			t.Errorf("Service port %s %d/%s -> %s (%d): want 53 onto the DNS container port %d", p.Name, p.Port, p.Protocol, p.TargetPort.Value, target, dnsUDP)
		}
		served[p.Protocol] = true
	}
	if !served["UDP"] || !served["TCP"] || len(svc.Ports) != 2 {
		t.Errorf("Service ports %+v: want 53/UDP and 53/TCP", svc.Ports)
	}

	// Probes reach the admin server: readiness on /readyz, liveness on
	// /healthz.
	for _, pr := range []struct {
		name  string
		probe *k8sProbe
		path  string
	}{{"readinessProbe", c.ReadinessProbe, "/readyz"}, {"livenessProbe", c.LivenessProbe, "/healthz"}, {"startupProbe", c.StartupProbe, "/healthz"}} {
		if pr.probe == nil || pr.probe.HTTPGet == nil {
			t.Errorf("no %s httpGet", pr.name)
			continue
		}
		port := pr.probe.HTTPGet.Port.Value
		if pr.probe.HTTPGet.Path != pr.path || (port != "admin" && port != strconv.Itoa(adminPort)) {
			t.Errorf("%s: %s on port %s, want %s on the admin port %d", pr.name, pr.probe.HTTPGet.Path, port, pr.path, adminPort)
		}
	}

	// The config reaches the container where -config says.
	mount := ""
	for _, v := range pod.Volumes {
		if v.ConfigMap != nil && v.ConfigMap.Name == cmName {
			for _, m := range c.VolumeMounts {
				if m.Name == v.Name {
					mount = m.MountPath
				}
			}
		}
	}
	if mount == "" {
		t.Errorf("ConfigMap %s is not mounted in the container", cmName)
	} else if i := slices.Index(c.Args, "-config"); i < 0 || i+1 >= len(c.Args) || c.Args[i+1] != mount+"/"+cfgFile {
		t.Errorf("args %v: want -config %s/%s", c.Args, mount, cfgFile)
	}

	// The root file system is read-only: whatever the config writes must
	// be on a writable volume.
	var writable []string
	for _, v := range pod.Volumes {
		if v.EmptyDir == nil {
			continue
		}
		for _, m := range c.VolumeMounts {
			if m.Name == v.Name {
				writable = append(writable, m.MountPath)
			}
		}
	}
	for key, p := range map[string]string{"feeds.cache_dir": bcfg.Feeds.CacheDir, "log.blocked": bcfg.Log.Blocked, "log.queries": bcfg.Log.Queries} {
		switch p {
		case "", "stdout", "stderr", "off":
			continue
		}
		if !slices.ContainsFunc(writable, func(dir string) bool { return p == dir || strings.HasPrefix(p, dir+"/") }) {
			t.Errorf("%s: %s %q is not on a writable volume %v (the root file system is read-only)", cfgFile, key, p, writable)
		}
	}

	pdb := decodeSpec[k8sPDBSpec](t, byKind["PodDisruptionBudget"][0])
	if !selects(pdb.Selector.MatchLabels, podLabels) || (pdb.MaxUnavailable == nil && pdb.MinAvailable == nil) {
		t.Errorf("PodDisruptionBudget %+v does not bound disruptions of the pods %v", pdb, podLabels)
	}

	pm := decodeSpec[struct {
		Selector  k8sSelector `yaml:"selector"`
		Endpoints []struct {
			Port string `yaml:"port"`
			Path string `yaml:"path"`
		} `yaml:"podMetricsEndpoints"`
	}](t, byKind["PodMonitor"][0])
	if !selects(pm.Selector.MatchLabels, podLabels) || len(pm.Endpoints) != 1 || pm.Endpoints[0].Port != "admin" || pm.Endpoints[0].Path != "/metrics" {
		t.Errorf("PodMonitor %+v: want /metrics on port admin of the pods %v", pm, podLabels)
	}
}

// TestKustomizeBuild renders the kustomization with kubectl, when it is
// installed, and checks that the Deployment mounts the generated
// (hash-named) ConfigMap.
func TestKustomizeBuild(t *testing.T) {
	kubectl, err := exec.LookPath("kubectl")
	if err != nil {
		t.Skip("kubectl not installed")
	}
	out, err := exec.Command(kubectl, "kustomize", kubernetesDir).Output()
	if err != nil {
		t.Fatalf("kubectl kustomize: %v", err)
	}
	objs, err := decodeYAMLDocs(bytes.NewReader(out), "kustomize output")
	if err != nil {
		t.Fatal(err)
	}
	var cm, mounted string
	for _, o := range objs {
		if o.Metadata.Namespace != "bulwark" && o.Kind != "Namespace" {
			t.Errorf("%s %s in namespace %q", o.Kind, o.Metadata.Name, o.Metadata.Namespace)
		}
		switch o.Kind {
		case "ConfigMap":
			cm = o.Metadata.Name
		case "Deployment":
			for _, v := range decodeSpec[k8sDeploymentSpec](t, o).Template.Spec.Volumes {
				if v.ConfigMap != nil {
					mounted = v.ConfigMap.Name
				}
			}
		}
	}
	if cm == "" || cm == "bulwark-config" || cm != mounted {
		t.Errorf("generated ConfigMap %q, Deployment mounts %q: want the same hash-suffixed name", cm, mounted)
	}
}

// selects reports whether a label selector matches labels.
func selects(selector, labels map[string]string) bool {
	if len(selector) == 0 {
		return false
	}
	for k, v := range selector {
		if labels[k] != v {
			return false
		}
	}
	return true
}

// parseQuantity reads the Kubernetes and GOMEMLIMIT byte quantities used
// here: a number with an optional Ki/Mi/Gi (or KiB/MiB/GiB) suffix.
func parseQuantity(s string) (int64, error) {
	mult := int64(1)
	for suffix, m := range map[string]int64{"Ki": 1 << 10, "Mi": 1 << 20, "Gi": 1 << 30} {
		if n, ok := strings.CutSuffix(strings.TrimSuffix(s, "B"), suffix); ok {
			s, mult = n, m
			break
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("quantity %q: %w", s, err)
	}
	return n * mult, nil
}
