package main

import (
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/bulwark-dns/bulwark/internal/testfile"
)

type k8sNetworkPolicySpec struct {
	PodSelector k8sSelector `yaml:"podSelector"`
	PolicyTypes []string    `yaml:"policyTypes"`
	Ingress     []struct {
		From  []yaml.Node `yaml:"from"`
		Ports []struct {
			Protocol string    `yaml:"protocol"`
			Port     yaml.Node `yaml:"port"`
		} `yaml:"ports"`
	} `yaml:"ingress"`
}

// TestKubernetesNetworkPolicy: the admin address listens on 0.0.0.0 in
// the pod, so the kustomization ships a NetworkPolicy over the Deployment's
// pods that opens DNS to all and the admin port only to named sources.
func TestKubernetesNetworkPolicy(t *testing.T) {
	_, byKind := loadKustomization(t)
	policies := byKind["NetworkPolicy"]
	var dep *k8sDeploymentSpec
	if ds := byKind["Deployment"]; len(ds) == 1 {
		d := decodeSpec[k8sDeploymentSpec](t, ds[0])
		dep = &d
	}
	if len(policies) != 1 || dep == nil {
		t.Fatalf("%d NetworkPolicy objects in the kustomization (want 1), Deployment found: %v", len(policies), dep != nil)
	}
	np := decodeSpec[k8sNetworkPolicySpec](t, policies[0])
	if !selects(np.PodSelector.MatchLabels, dep.Template.Metadata.Labels) {
		t.Errorf("podSelector %v does not select the Deployment's pods %v", np.PodSelector.MatchLabels, dep.Template.Metadata.Labels)
	}
	if !slices.Contains(np.PolicyTypes, "Ingress") {
		t.Errorf("policyTypes %v: want Ingress", np.PolicyTypes)
	}
	open := map[string]bool{}       // port -> reachable from anywhere
	restricted := map[string]bool{} // port -> reachable from named sources
	for _, rule := range np.Ingress {
		if len(rule.Ports) == 0 {
			t.Error("an ingress rule without ports opens every port, the admin port included")
		}
		for _, p := range rule.Ports {
			if len(rule.From) == 0 {
				open[p.Port.Value] = true
			} else {
				restricted[p.Port.Value] = true
			}
		}
	}
	for _, p := range []string{"dns-udp", "dns-tcp"} {
		if !open[p] {
			t.Errorf("port %s is not open to clients", p)
		}
	}
	if open["admin"] || open["9153"] || !restricted["admin"] {
		t.Errorf("admin port: open to all %v, restricted %v: want it reachable from named sources only", open["admin"] || open["9153"], restricted["admin"])
	}
}

// TestSampleWildcardsListBothFamilies: "[::]:P" is IPv6 only (resolver
// TestIPv6WildcardIsIPv6Only), so a sample config or README line that
// offers it must offer "0.0.0.0:P" with it, or an operator copying it
// serves IPv6 only while believing both are served.
func TestSampleWildcardsListBothFamilies(t *testing.T) {
	wild := regexp.MustCompile(`"\[::\]:(\d+)"`)
	for _, file := range []string{systemdConfigPath, filepath.Join(kubernetesDir, "bulwark.yaml"), "../../configs/default.yaml", "../../README.md"} {
		data := testfile.Read(t, file)
		for i, line := range strings.Split(string(data), "\n") {
			for _, m := range wild.FindAllStringSubmatch(line, -1) {
				if !strings.Contains(line, `"0.0.0.0:`+m[1]+`"`) {
					t.Errorf("%s:%d: %s without \"0.0.0.0:%s\" serves IPv6 only: %s", file, i+1, m[0], m[1], strings.TrimSpace(line))
				}
			}
		}
	}
}
