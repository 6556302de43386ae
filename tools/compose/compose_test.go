// Package compose checks how Shopgraph is deployed and documented against
// the binary's own configuration. It loads docker-compose.yml with
// compose-go, as `docker compose` does (no Docker needed), and reads each
// container's command and environment with internal/config, so a misspelt
// variable, a wrong port or a missing store shows up here rather than in a
// crash-looping container; and it checks README.md's configuration table
// against the flags.
package compose

import (
	"io"
	"maps"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/compose-spec/compose-go/v2/types"

	"github.com/shopgraph/shopgraph/internal/config"
)

var root = filepath.Join("..", "..")

// The stores each service keeps its data in (ARCHITECTURE.md).
var (
	postgresBacked = []string{"users", "inventory", "orders", "payments", "shipping"}
	mongoBacked    = []string{"products", "notifications"}
)

// stores are the backing services: compose name, image, port, data directory.
var stores = []struct {
	name, image string
	port        int
	data        string
}{
	{"postgres", "postgres:16", 5432, "/var/lib/postgresql/data"},
	{"mongo", "mongo:7", 27017, "/data/db"},
	{"redis", "redis:7", 6379, "/data"},
}

// targets are the shopgraph containers: the gateway and every service.
func targets() []string { return append([]string{"gateway"}, config.Services...) }

// project loads docker-compose.yml with every profile's services (the ones
// `docker compose up` leaves out stay in DisabledServices) and an empty
// environment, so the result does not depend on the caller's shell.
func project(t *testing.T) *types.Project {
	t.Helper()
	dir, err := filepath.Abs(root)
	if err != nil {
		t.Fatal(err)
	}
	p, err := loader.LoadWithContext(t.Context(), types.ConfigDetails{
		WorkingDir:  dir,
		ConfigFiles: []types.ConfigFile{{Filename: filepath.Join(dir, "docker-compose.yml")}},
		Environment: types.Mapping{},
	}, func(o *loader.Options) { o.SetProjectName("shopgraph", true) })
	if err != nil {
		t.Fatalf("load docker-compose.yml: %v", err)
	}
	return p
}

// service returns the service called name, enabled or in a profile.
func service(t *testing.T, p *types.Project, name string) types.ServiceConfig {
	t.Helper()
	if s, ok := p.Services[name]; ok {
		return s
	}
	if s, ok := p.DisabledServices[name]; ok {
		return s
	}
	t.Fatalf("docker-compose.yml has no service %q", name)
	return types.ServiceConfig{}
}

// shopgraph is a target's container as the binary sees it.
type shopgraph struct {
	svc types.ServiceConfig
	env map[string]string
	cfg config.Config
	// read holds the environment variables the binary looks at.
	read map[string]bool
}

// load reads a target's configuration the way the binary will: its command
// as the arguments and its environment through config.Load.
func load(t *testing.T, p *types.Project, target string) shopgraph {
	t.Helper()
	sg := shopgraph{svc: service(t, p, target), env: map[string]string{}, read: map[string]bool{}}
	for k, v := range sg.svc.Environment {
		if v == nil {
			t.Fatalf("%s: $%s has no value (it would be taken from the host)", target, k)
		}
		sg.env[k] = *v
	}
	getenv := func(k string) string { sg.read[k] = true; return sg.env[k] }
	cfg, err := config.Load(sg.svc.Command, getenv, io.Discard)
	if err != nil {
		t.Fatalf("%s: shopgraph %s rejects its settings: %v", target, strings.Join(sg.svc.Command, " "), err)
	}
	sg.cfg = cfg
	return sg
}

// hostPort parses an URL and returns its host and port.
func hostPort(t *testing.T, raw string) (*url.URL, string, int) {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatalf("%q: %v", raw, err)
	}
	host, port, err := net.SplitHostPort(u.Host)
	if err != nil {
		t.Fatalf("%q names no port: %v", raw, err)
	}
	n, err := strconv.Atoi(port)
	if err != nil {
		t.Fatalf("%q: port %q", raw, port)
	}
	return u, host, n
}

func dependsOnHealthy(t *testing.T, s types.ServiceConfig, on string) {
	t.Helper()
	d, ok := s.DependsOn[on]
	if !ok {
		t.Errorf("%s does not depend on %s", s.Name, on)
		return
	}
	if d.Condition != types.ServiceConditionHealthy {
		t.Errorf("%s depends on %s with condition %q, want %s", s.Name, on, d.Condition, types.ServiceConditionHealthy)
	}
}

// TestEveryTargetRunsFromTheImage checks that each target has its own
// service, running `shopgraph -target=<name>` from the one image, with
// settings the binary accepts and a healthcheck on its own port.
func TestEveryTargetRunsFromTheImage(t *testing.T) {
	t.Parallel()
	p := project(t)
	dir, err := filepath.Abs(root)
	if err != nil {
		t.Fatal(err)
	}
	gw := service(t, p, "gateway")
	if gw.Image == "" || gw.Build == nil {
		t.Fatalf("gateway: want both image and build, got image %q build %v", gw.Image, gw.Build)
	}
	for _, target := range targets() {
		t.Run(target, func(t *testing.T) {
			t.Parallel()
			sg := load(t, p, target)
			if want := []string{"-target=" + target}; !slices.Equal(sg.svc.Command, want) {
				t.Errorf("command %q, want %q", sg.svc.Command, want)
			}
			if sg.cfg.Target != target {
				t.Errorf("the binary would run target %q", sg.cfg.Target)
			}
			if len(sg.svc.Entrypoint) != 0 {
				t.Errorf("entrypoint %q overrides the image's shopgraph", sg.svc.Entrypoint)
			}
			if sg.svc.Image != gw.Image {
				t.Errorf("image %q, gateway's is %q", sg.svc.Image, gw.Image)
			}
			if b := sg.svc.Build; b == nil || b.Context != dir || b.Dockerfile != "Dockerfile" {
				t.Errorf("build %+v, want context %s and the Dockerfile there", b, dir)
			}
			if sg.cfg.Host != "0.0.0.0" {
				t.Errorf("host %q: other containers cannot reach it", sg.cfg.Host)
			}
			for _, k := range slices.Sorted(maps.Keys(sg.env)) {
				if !sg.read[k] {
					t.Errorf("$%s is not a setting shopgraph reads (shopgraph -h lists them)", k)
				}
			}
			hc := sg.svc.HealthCheck
			want := ":" + strconv.Itoa(sg.cfg.Ports[target]) + "/healthz"
			if hc == nil || !strings.Contains(strings.Join(hc.Test, " "), want) {
				t.Errorf("healthcheck %+v does not probe %s", hc, want)
			}
		})
	}
}

var urlVar = regexp.MustCompile(`^SHOPGRAPH_([A-Z]+)_URL$`)

// TestURLsPointAtServices checks that every SHOPGRAPH_*_URL names an existing
// service on the port that service listens on.
func TestURLsPointAtServices(t *testing.T) {
	t.Parallel()
	p := project(t)
	ports := map[string]int{}
	for _, target := range targets() {
		ports[target] = load(t, p, target).cfg.Ports[target]
	}
	for _, target := range targets() {
		t.Run(target, func(t *testing.T) {
			t.Parallel()
			sg := load(t, p, target)
			for _, s := range config.Services {
				if sg.cfg.URLs[s] == "" {
					t.Errorf("$SHOPGRAPH_%s_URL is not set: it would default to localhost", strings.ToUpper(s))
				}
			}
			if target != "users" && sg.cfg.JWKSURL == "" {
				t.Error("$SHOPGRAPH_JWKS_URL is not set")
			}
			for _, k := range slices.Sorted(maps.Keys(sg.env)) {
				m := urlVar.FindStringSubmatch(k)
				if m == nil {
					continue
				}
				name := strings.ToLower(m[1])
				wantHost, wantPath := name, "/graphql"
				if name == "jwks" {
					wantHost, wantPath = "users", "/.well-known/jwks.json"
				}
				u, host, port := hostPort(t, sg.env[k])
				if host != wantHost || u.Path != wantPath {
					t.Errorf("$%s=%s, want http://%s:PORT%s", k, sg.env[k], wantHost, wantPath)
					continue
				}
				service(t, p, host)
				if port != ports[host] {
					t.Errorf("$%s=%s, but %s listens on %d", k, sg.env[k], host, ports[host])
				}
			}
		})
	}
}

// TestBackingStores checks PostgreSQL, MongoDB and Redis: present, kept on a
// volume, health-checked, and reached by the services that use them with the
// credentials they are started with.
func TestBackingStores(t *testing.T) {
	t.Parallel()
	p := project(t)
	for _, st := range stores {
		s, ok := p.Services[st.name]
		if !ok {
			t.Errorf("no %s service (%s)", st.name, st.image)
			continue
		}
		if s.Image != st.image {
			t.Errorf("%s: image %q, want %q", st.name, s.Image, st.image)
		}
		if s.HealthCheck == nil || len(s.HealthCheck.Test) == 0 || s.HealthCheck.Disable {
			t.Errorf("%s: no healthcheck", st.name)
		}
		i := slices.IndexFunc(s.Volumes, func(v types.ServiceVolumeConfig) bool { return v.Target == st.data })
		if i < 0 || s.Volumes[i].Type != types.VolumeTypeVolume {
			t.Errorf("%s: %s is not on a named volume", st.name, st.data)
		} else if _, ok := p.Volumes[s.Volumes[i].Source]; !ok {
			t.Errorf("%s: volume %q is not declared", st.name, s.Volumes[i].Source)
		}
	}

	pg := service(t, p, "postgres")
	pgEnv := func(k string) string {
		if v := pg.Environment[k]; v != nil {
			return *v
		}
		return ""
	}
	for _, target := range targets() {
		t.Run(target, func(t *testing.T) {
			t.Parallel()
			sg := load(t, p, target)
			_, host, port := hostPort(t, sg.cfg.RedisURL)
			if host != "redis" || port != 6379 {
				t.Errorf("$REDIS_URL=%s, want the redis service", sg.cfg.RedisURL)
			}
			dependsOnHealthy(t, sg.svc, "redis")
			if slices.Contains(postgresBacked, target) {
				raw := sg.cfg.DatabaseURLFor(target)
				u, host, port := hostPort(t, raw)
				if host != "postgres" || port != 5432 {
					t.Errorf("$DATABASE_URL=%s, want the postgres service", raw)
				}
				pass, _ := u.User.Password()
				if u.User.Username() != pgEnv("POSTGRES_USER") || pass != pgEnv("POSTGRES_PASSWORD") ||
					strings.TrimPrefix(u.Path, "/") != pgEnv("POSTGRES_DB") {
					t.Errorf("$DATABASE_URL=%s does not match the postgres service's POSTGRES_USER, _PASSWORD and _DB", raw)
				}
				dependsOnHealthy(t, sg.svc, "postgres")
			}
			if slices.Contains(mongoBacked, target) {
				if sg.cfg.MongoURI == "" {
					t.Fatal("$MONGODB_URI is not set: the service would start an embedded FerretDB in the container")
				}
				_, host, port := hostPort(t, sg.cfg.MongoURI)
				if host != "mongo" || port != 27017 {
					t.Errorf("$MONGODB_URI=%s, want the mongo service", sg.cfg.MongoURI)
				}
				dependsOnHealthy(t, sg.svc, "mongo")
			}
		})
	}
}

// TestUsersSigningKey checks that the users service signs with a key mounted
// from a file, one that git never picks up.
func TestUsersSigningKey(t *testing.T) {
	t.Parallel()
	p := project(t)
	sg := load(t, p, "users")
	path := sg.cfg.JWTPrivateKeyFile
	if path == "" {
		t.Fatal("users: $SHOPGRAPH_JWT_PRIVATE_KEY_FILE is not set: each replica would make its own key")
	}
	i := slices.IndexFunc(sg.svc.Secrets, func(s types.ServiceSecretConfig) bool {
		target := s.Target
		if target == "" {
			target = "/run/secrets/" + s.Source
		}
		return target == path
	})
	if i < 0 {
		t.Fatalf("users: no secret is mounted at %s", path)
	}
	secret, ok := p.Secrets[sg.svc.Secrets[i].Source]
	if !ok || secret.File == "" {
		t.Fatalf("secret %q is not declared with a file", sg.svc.Secrets[i].Source)
	}
	ignore, err := os.ReadFile(filepath.Join(filepath.Dir(secret.File), ".gitignore"))
	if err != nil || !slices.Contains(strings.Split(string(ignore), "\n"), "*") {
		t.Errorf("%s: its folder has no .gitignore that ignores everything (%v)", secret.File, err)
	}
}

// TestGatewayIsPublished checks that the gateway is the one published port
// and starts after every service that `docker compose up` starts.
func TestGatewayIsPublished(t *testing.T) {
	t.Parallel()
	p := project(t)
	gw := load(t, p, "gateway")
	i := slices.IndexFunc(gw.svc.Ports, func(pc types.ServicePortConfig) bool { return pc.Published == "4000" })
	if i < 0 || gw.svc.Ports[i].Target != uint32(gw.cfg.Ports["gateway"]) {
		t.Errorf("gateway ports %+v, want 4000 published to its port %d", gw.svc.Ports, gw.cfg.Ports["gateway"])
	}
	for _, s := range config.Services {
		if _, enabled := p.Services[s]; enabled {
			dependsOnHealthy(t, gw.svc, s)
		}
	}
	for _, s := range []string{"users", "products"} {
		if _, enabled := p.Services[s]; !enabled {
			t.Errorf("%s is not started by `docker compose up`", s)
		}
	}
	for name, s := range p.Services {
		if name != "gateway" && len(s.Ports) > 0 {
			t.Errorf("%s publishes %+v: only the gateway is meant to be reached from outside", name, s.Ports)
		}
	}
}
