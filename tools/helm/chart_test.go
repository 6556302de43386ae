package helm

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/engine"
	"helm.sh/helm/v3/pkg/lint"
	"helm.sh/helm/v3/pkg/lint/support"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"
)

const (
	chartDir    = "../../deploy/helm/shopgraph"
	repoRoot    = "../.."
	kubeVersion = "v1.31.0"
)

// binary is what `shopgraph -h` says: its flags, the environment variables
// they read, and the targets (from the -<target>-port flags).
type binary struct {
	flags, envs map[string]bool
	targets     []string
}

var (
	helpOnce sync.Once
	help     binary
	helpErr  error
)

// shopgraph builds the binary from the repository and reads its -h.
func shopgraph(t *testing.T) binary {
	t.Helper()
	helpOnce.Do(func() {
		dir, err := os.MkdirTemp("", "shopgraph-helm")
		if err != nil {
			helpErr = err
			return
		}
		defer os.RemoveAll(dir)
		bin := filepath.Join(dir, "shopgraph")
		build := exec.Command("go", "build", "-o", bin, ".")
		build.Dir = repoRoot
		if out, err := build.CombinedOutput(); err != nil {
			helpErr = fmt.Errorf("build shopgraph: %v\n%s", err, out)
			return
		}
		var out bytes.Buffer
		cmd := exec.Command(bin, "-h")
		cmd.Stdout, cmd.Stderr = &out, &out
		cmd.Env = []string{} // the defaults, not this machine's settings
		_ = cmd.Run()
		help = binary{flags: map[string]bool{}, envs: map[string]bool{}}
		for _, m := range regexp.MustCompile(`(?m)^  -([a-z0-9-]+)`).FindAllStringSubmatch(out.String(), -1) {
			help.flags[m[1]] = true
			if name, ok := strings.CutSuffix(m[1], "-port"); ok && !strings.HasPrefix(name, "smtp") {
				help.targets = append(help.targets, name)
			}
		}
		for _, m := range regexp.MustCompile(`\(\$([A-Z0-9_]+)\)`).FindAllStringSubmatch(out.String(), -1) {
			help.envs[m[1]] = true
		}
		if len(help.flags) < 20 || !help.flags["target"] {
			helpErr = fmt.Errorf("shopgraph -h lists no flags:\n%s", out.String())
		}
	})
	if helpErr != nil {
		t.Fatal(helpErr)
	}
	return help
}

// routes returns the paths that target serves besides GraphQL, from the
// source of its HTTP handler: the gateway's, or the one every service uses.
func routes(t *testing.T, target string) []string {
	t.Helper()
	// A service is served by internal/subgraph (health, and readiness in
	// front of it); the gateway by gateway/gateway.go.
	files := []string{"internal/subgraph/subgraph.go", "internal/subgraph/ready.go"}
	if target == "gateway" {
		files = []string{"gateway/gateway.go"}
	}
	var out []string
	for _, file := range files {
		src, err := os.ReadFile(filepath.Join(repoRoot, file))
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range regexp.MustCompile(`"GET (/[a-z/]+)"`).FindAllStringSubmatch(string(src), -1) {
			out = append(out, m[1])
		}
	}
	return out
}

func TestLint(t *testing.T) {
	t.Parallel()
	kv, err := chartutil.ParseKubeVersion(kubeVersion)
	if err != nil {
		t.Fatal(err)
	}
	l := lint.AllWithKubeVersion(chartDir, nil, "shop", kv)
	for _, m := range l.Messages {
		if m.Severity >= support.WarningSev {
			t.Error(m)
		}
	}
}

// manifests are the decoded objects of one rendering.
type manifests struct {
	deployments map[string]*appsv1.Deployment
	services    map[string]*corev1.Service
	hpas        map[string]*autoscalingv2.HorizontalPodAutoscaler
	pdbs        map[string]*policyv1.PodDisruptionBudget
	ingresses   []*networkingv1.Ingress
	secrets     map[string]*corev1.Secret
}

// render renders the chart with values (over values.yaml) and decodes every
// manifest strictly: an unknown field or kind fails the test.
func render(t *testing.T, values string) manifests {
	t.Helper()
	ch, err := loader.Load(chartDir)
	if err != nil {
		t.Fatal(err)
	}
	vals, err := chartutil.ReadValues([]byte(values))
	if err != nil {
		t.Fatal(err)
	}
	caps := chartutil.DefaultCapabilities.Copy()
	kv, _ := chartutil.ParseKubeVersion(kubeVersion)
	caps.KubeVersion = *kv
	rv, err := chartutil.ToRenderValues(ch, vals, chartutil.ReleaseOptions{Name: "shop", Namespace: "shop", IsInstall: true}, caps)
	if err != nil {
		t.Fatal(err)
	}
	files, err := engine.Render(ch, rv)
	if err != nil {
		t.Fatal(err)
	}
	m := manifests{
		deployments: map[string]*appsv1.Deployment{}, services: map[string]*corev1.Service{},
		hpas: map[string]*autoscalingv2.HorizontalPodAutoscaler{}, pdbs: map[string]*policyv1.PodDisruptionBudget{},
		secrets: map[string]*corev1.Secret{},
	}
	names := make([]string, 0, len(files))
	for name := range files {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		if !strings.HasSuffix(name, ".yaml") {
			continue
		}
		for i, doc := range regexp.MustCompile(`(?m)^---\s*$`).Split(files[name], -1) {
			if strings.TrimSpace(doc) == "" {
				continue
			}
			var tm metav1.TypeMeta
			if err := yaml.Unmarshal([]byte(doc), &tm); err != nil {
				t.Fatalf("%s #%d: %v", name, i, err)
			}
			strict := func(v any) {
				if err := yaml.UnmarshalStrict([]byte(doc), v); err != nil {
					t.Fatalf("%s #%d (%s): %v\n%s", name, i, tm.Kind, err, doc)
				}
			}
			switch tm.APIVersion + " " + tm.Kind {
			case "apps/v1 Deployment":
				var d appsv1.Deployment
				strict(&d)
				m.deployments[d.Name] = &d
			case "v1 Service":
				var s corev1.Service
				strict(&s)
				m.services[s.Name] = &s
			case "autoscaling/v2 HorizontalPodAutoscaler":
				var h autoscalingv2.HorizontalPodAutoscaler
				strict(&h)
				m.hpas[h.Name] = &h
			case "policy/v1 PodDisruptionBudget":
				var p policyv1.PodDisruptionBudget
				strict(&p)
				m.pdbs[p.Name] = &p
			case "networking.k8s.io/v1 Ingress":
				var in networkingv1.Ingress
				strict(&in)
				m.ingresses = append(m.ingresses, &in)
			case "v1 Secret":
				var s corev1.Secret
				strict(&s)
				m.secrets[s.Name] = &s
			default:
				t.Fatalf("%s #%d: unexpected %s %s", name, i, tm.APIVersion, tm.Kind)
			}
		}
	}
	return m
}

func TestRenderedManifests(t *testing.T) {
	t.Parallel()
	bin := shopgraph(t)
	tests := []struct {
		name, values string
		autoscaling  bool
		secret       bool // the chart makes the Secret
		webhook      bool
	}{
		{name: "defaults", autoscaling: true, secret: true},
		{name: "stripe, a signing key, fixed replicas, SMTP", values: `
config:
  paymentProvider: stripe
  smtpHost: smtp.example.com
  smtpUsername: shop
  smtpFrom: "Shop <shop@example.com>"
  extraArgs: ["-max-query-depth=15"]
secrets:
  jwtPrivateKey: "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIA==\n-----END PRIVATE KEY-----\n"
  stripeSecretKey: sk_test_1
  stripeWebhookSecret: whsec_1
defaults:
  autoscaling: {enabled: false}
  replicas: 3
ingress:
  stripeWebhook: true
`, secret: true, webhook: true},
		{name: "an existing secret, no ingress", values: "existingSecret: shop-creds\ningress: {enabled: false}\n", autoscaling: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m := render(t, tt.values)
			if len(bin.targets) != 8 {
				t.Fatalf("targets from -h: %v", bin.targets)
			}
			for _, target := range bin.targets {
				name := "shop-shopgraph-" + target
				d, ok := m.deployments[name]
				if !ok {
					t.Errorf("no Deployment for target %s", target)
					continue
				}
				checkDeployment(t, bin, target, d, m)
				if _, ok := m.pdbs[name]; !ok {
					t.Errorf("%s: no PodDisruptionBudget", target)
				}
				h, ok := m.hpas[name]
				if ok != tt.autoscaling {
					t.Errorf("%s: HorizontalPodAutoscaler %v, want %v", target, ok, tt.autoscaling)
				}
				if ok && (h.Spec.ScaleTargetRef.Kind != "Deployment" || h.Spec.ScaleTargetRef.Name != name) {
					t.Errorf("%s: the autoscaler scales %+v", target, h.Spec.ScaleTargetRef)
				}
				if tt.autoscaling == (d.Spec.Replicas != nil) {
					t.Errorf("%s: replicas %v with autoscaling %v (the autoscaler owns the count)", target, d.Spec.Replicas, tt.autoscaling)
				}
			}
			if len(m.deployments) != len(bin.targets) {
				t.Errorf("%d Deployments for %d targets", len(m.deployments), len(bin.targets))
			}
			_, made := m.secrets["shop-shopgraph-secrets"]
			if made != tt.secret || (!tt.secret && len(m.secrets) != 0) {
				t.Errorf("secrets %v, want the chart's: %v", m.secrets, tt.secret)
			}
			if tt.values == "" || tt.webhook {
				if len(m.ingresses) != 1 {
					t.Fatalf("%d ingresses", len(m.ingresses))
				}
				paths := map[string]string{}
				for _, p := range m.ingresses[0].Spec.Rules[0].HTTP.Paths {
					paths[p.Path] = p.Backend.Service.Name
					svc, ok := m.services[p.Backend.Service.Name]
					if !ok || svc.Spec.Ports[0].Name != p.Backend.Service.Port.Name {
						t.Errorf("ingress %s routes to a missing service port %+v", p.Path, p.Backend.Service)
					}
				}
				if paths["/"] != "shop-shopgraph-gateway" || (tt.webhook && paths["/webhooks/stripe"] != "shop-shopgraph-payments") {
					t.Errorf("ingress paths = %v", paths)
				}
			} else if len(m.ingresses) != 0 && !tt.webhook {
				t.Errorf("ingress rendered while disabled")
			}
		})
	}
}

// checkDeployment checks one target's Deployment against the binary.
func checkDeployment(t *testing.T, bin binary, target string, d *appsv1.Deployment, m manifests) {
	t.Helper()
	pod := d.Spec.Template.Spec
	if len(pod.Containers) != 1 {
		t.Fatalf("%s: %d containers", target, len(pod.Containers))
	}
	c := pod.Containers[0]
	var shutdown time.Duration
	args := map[string]string{}
	for _, a := range c.Args {
		name, value, _ := strings.Cut(strings.TrimPrefix(a, "-"), "=")
		if !strings.HasPrefix(a, "-") || !bin.flags[name] {
			t.Errorf("%s: %q is not a flag of shopgraph", target, a)
		}
		args[name] = value
		if name == "shutdown-timeout" {
			shutdown, _ = time.ParseDuration(value)
		}
	}
	if args["target"] != target || args["host"] != "0.0.0.0" {
		t.Errorf("%s: args %v", target, c.Args)
	}
	for _, e := range c.Env {
		if !bin.envs[e.Name] {
			t.Errorf("%s: $%s is read by no flag of shopgraph", target, e.Name)
		}
		if e.Value != "" {
			t.Errorf("%s: $%s is set in the clear; it comes from the Secret", target, e.Name)
		}
	}
	port := c.Ports[0]
	if args[target+"-port"] != fmt.Sprint(port.ContainerPort) {
		t.Errorf("%s: listens on %s, the container port is %d", target, args[target+"-port"], port.ContainerPort)
	}
	served := routes(t, target)
	for kind, p := range map[string]*corev1.Probe{"liveness": c.LivenessProbe, "readiness": c.ReadinessProbe, "startup": c.StartupProbe} {
		if p == nil || p.HTTPGet == nil {
			t.Errorf("%s: no %s probe", target, kind)
			continue
		}
		if !slices.Contains(served, p.HTTPGet.Path) {
			t.Errorf("%s: %s probe %s, but it serves only %v", target, kind, p.HTTPGet.Path, served)
		}
		if p.HTTPGet.Port.StrVal != port.Name {
			t.Errorf("%s: %s probe on port %v", target, kind, p.HTTPGet.Port)
		}
	}
	if c.ReadinessProbe != nil && c.ReadinessProbe.HTTPGet != nil && c.ReadinessProbe.HTTPGet.Path != "/readyz" {
		t.Errorf("%s: readiness on %s, want /readyz (it checks the target's stores or services)", target, c.ReadinessProbe.HTTPGet.Path)
	}
	if c.Resources.Requests.Cpu().IsZero() || c.Resources.Requests.Memory().IsZero() {
		t.Errorf("%s: no resource requests", target)
	}
	sc, psc := c.SecurityContext, pod.SecurityContext
	if psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot || psc.RunAsUser == nil || *psc.RunAsUser == 0 ||
		sc == nil || sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
		t.Errorf("%s: not a non-root, read-only container: %+v %+v", target, psc, sc)
	}
	if shutdown == 0 || pod.TerminationGracePeriodSeconds == nil ||
		time.Duration(*pod.TerminationGracePeriodSeconds)*time.Second <= shutdown {
		t.Errorf("%s: grace period %v is not longer than -shutdown-timeout %v", target, pod.TerminationGracePeriodSeconds, shutdown)
	}
	svc, ok := m.services[d.Name]
	if !ok {
		t.Errorf("%s: no Service", target)
		return
	}
	for k, v := range svc.Spec.Selector {
		if d.Spec.Template.Labels[k] != v {
			t.Errorf("%s: the Service selects %s=%s, the pods have %q", target, k, v, d.Spec.Template.Labels[k])
		}
	}
	if svc.Spec.Ports[0].TargetPort.StrVal != port.Name {
		t.Errorf("%s: the Service targets %v", target, svc.Spec.Ports[0].TargetPort)
	}
	// Every -<service>-url names a Service of the chart on its port.
	for name, value := range args {
		s, ok := strings.CutSuffix(name, "-url")
		if !ok || !slices.Contains(bin.targets, s) {
			continue
		}
		other := m.services["shop-shopgraph-"+s]
		if other == nil || value != fmt.Sprintf("http://%s:%d/graphql", other.Name, other.Spec.Ports[0].Port) {
			t.Errorf("%s: -%s=%s names no Service of the chart", target, name, value)
		}
	}
}
