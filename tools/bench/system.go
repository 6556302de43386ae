package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"
)

// system is a shopgraph the harness started for itself on loopback: the
// binary built from the repository, run with -target=all on free ports, its
// own database, Redis prefix and data directory; plus a second process,
// -target=gateway, that reaches the subgraphs through the counting proxies.
// Close stops both and removes everything they stored.
type system struct {
	GatewayURL string            // the -target=all process's gateway
	Subgraphs  map[string]string // service name → GraphQL URL, as printed
	Order      []string          // service names in the order printed
	Build      string            // what the binary was built from, e.g. "/src at 1a2b3c4-dirty"
	// PprofURL is the -target=all process's /debug/pprof/ (with -cpuprofile).
	PprofURL string

	dir, bin    string
	adminDBURL  string // maintenance database, to drop ours
	dbName      string
	redisURL    string
	redisPrefix string
	procs       []*process
	log         io.Writer
	dedupe      bool // -gateway-dedupe of the "ours" gateway
}

// process is one running shopgraph.
type process struct {
	name   string
	cmd    *exec.Cmd
	exited chan struct{}
	err    error // what Wait returned, once exited is closed
	stderr *tail
}

// startSystem builds the binary from repo and starts it with -target=all.
func startSystem(ctx context.Context, cfg config, log io.Writer) (_ *system, err error) {
	id := randomID()
	s := &system{
		Subgraphs:   map[string]string{},
		dbName:      "shopgraph_bench_" + id,
		redisURL:    cfg.RedisURL,
		redisPrefix: "bench:" + id + ":",
		log:         log,
		dedupe:      cfg.GatewayDedupe,
	}
	if s.dir, err = os.MkdirTemp("", "shopgraph-bench-"); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			s.Close()
		}
	}()
	u, err := url.Parse(cfg.DatabaseURL)
	if err != nil {
		return nil, fmt.Errorf("-database-url: %w", err)
	}
	admin := *u
	admin.Path = "/postgres"
	s.adminDBURL = admin.String()
	u.Path = "/" + s.dbName

	if s.bin = cfg.Binary; s.bin == "" {
		s.bin = filepath.Join(s.dir, "shopgraph")
		s.Build = cfg.Repo
		if rev, err := exec.CommandContext(ctx, "git", "--no-optional-locks", "-C", cfg.Repo, "describe", "--always", "--dirty").Output(); err == nil {
			s.Build += " at " + strings.TrimSpace(string(rev))
		}
		fmt.Fprintf(log, "bench: building shopgraph from %s\n", s.Build)
		buildArgs := []string{"build", "-o", s.bin}
		if cfg.CPUProfile != "" {
			buildArgs = append(buildArgs, "-tags", "pprof") // see pprof.go at the root
		}
		build := exec.CommandContext(ctx, "go", append(buildArgs, ".")...)
		build.Dir = cfg.Repo
		build.Stdout, build.Stderr = log, log
		if err := build.Run(); err != nil {
			return nil, fmt.Errorf("go build: %w", err)
		}
	} else {
		s.Build = cfg.Binary
	}

	args := []string{
		"-target=all", "-host=127.0.0.1", "-data-dir=" + filepath.Join(s.dir, "data"),
		"-database-url=" + u.String(), "-redis-url=" + cfg.RedisURL, "-redis-prefix=" + s.redisPrefix,
		"-admin-email=" + cfg.AdminEmail, "-admin-password=" + cfg.AdminPassword,
		"-log-level=error", "-access-token-ttl=24h",
		// The customers all register from 127.0.0.1.
		"-register-limit-address=100000",
		// Shipments stay CONFIRMED: no carrier steps in the background.
		"-shipping-step-interval=0",
		"-gateway-port=0",
	}
	for _, name := range serviceNames {
		args = append(args, "-"+name+"-port=0")
	}
	fmt.Fprintf(log, "bench: starting shopgraph -target=all (database %s, Redis prefix %s)\n", s.dbName, s.redisPrefix)
	var env []string
	if cfg.CPUProfile != "" {
		addr, err := freeAddr()
		if err != nil {
			return nil, err
		}
		env = append(env, "SHOPGRAPH_BENCH_PPROF_ADDR="+addr)
		s.PprofURL = "http://" + addr + "/debug/pprof/"
	}
	p, urls, order, err := s.start(ctx, "shopgraph", args, env...)
	if err != nil {
		return nil, err
	}
	s.procs = append(s.procs, p)
	for _, name := range order {
		if name == "GraphQL" {
			s.GatewayURL = urls[name]
			continue
		}
		if name != "GraphiQL" {
			s.Subgraphs[name] = urls[name]
			s.Order = append(s.Order, name)
		}
	}
	return s, nil
}

// serviceNames are the services whose ports the harness frees; the binary
// prints the URL of those it runs.
var serviceNames = []string{"users", "products", "inventory", "orders", "payments", "shipping", "notifications"}

// startGateway runs a second shopgraph, -target=gateway, whose services are
// at the given URLs (the counting proxies), and returns its GraphQL URL.
func (s *system) startGateway(ctx context.Context, upstream map[string]string) (string, error) {
	return s.startGatewayNamed(ctx, "gateway", upstream)
}

// startGatewayNamed is startGateway with its own name and data directory.
func (s *system) startGatewayNamed(ctx context.Context, name string, upstream map[string]string) (string, error) {
	args := []string{
		"-target=gateway", "-host=127.0.0.1", "-gateway-port=0", "-log-level=error",
		"-data-dir=" + filepath.Join(s.dir, name), "-gateway-dedupe=" + strconv.FormatBool(s.dedupe),
		// Keys are fetched from users directly, so the proxies count only GraphQL.
		"-jwks-url=" + strings.TrimSuffix(s.Subgraphs["users"], "/graphql") + "/.well-known/jwks.json",
	}
	for name, u := range upstream {
		args = append(args, "-"+name+"-url="+u)
	}
	fmt.Fprintf(s.log, "bench: starting shopgraph -target=gateway (%s)\n", name)
	p, urls, _, err := s.start(ctx, name, args)
	if err != nil {
		return "", err
	}
	s.procs = append(s.procs, p)
	return urls["GraphQL"], nil
}

// start runs the binary and reads the "name: URL" lines it prints until the
// gateway's "GraphQL:" line.
func (s *system) start(ctx context.Context, name string, args []string, env ...string) (*process, map[string]string, []string, error) {
	cmd := exec.Command(s.bin, args...)
	cmd.Env = append(childEnv(os.Environ()), env...)
	p := &process{name: name, cmd: cmd, exited: make(chan struct{}), stderr: &tail{max: 16 << 10}}
	cmd.Stderr = p.stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, nil, nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, nil, nil, err
	}
	urls := map[string]string{}
	var order []string
	ready := make(chan struct{})
	go func() {
		lines := bufio.NewScanner(out)
		done := false
		for lines.Scan() { // read to the end, so the process never blocks on stdout
			k, v, ok := strings.Cut(lines.Text(), ":")
			if !ok || done {
				continue
			}
			urls[k] = strings.TrimSpace(v)
			order = append(order, k)
			if k == "GraphQL" {
				done = true
				close(ready)
			}
		}
	}()
	go func() {
		p.err = cmd.Wait()
		close(p.exited)
	}()
	timeout := time.NewTimer(3 * time.Minute)
	defer timeout.Stop()
	select {
	case <-ready:
		return p, urls, order, nil
	case <-p.exited:
		return nil, nil, nil, fmt.Errorf("%s stopped at start-up (%v):\n%s", name, p.err, p.stderr)
	case <-timeout.C:
		err = fmt.Errorf("%s did not start in 3 minutes:\n%s", name, p.stderr)
	case <-ctx.Done():
		err = ctx.Err()
	}
	p.stop()
	return nil, nil, nil, err
}

// childEnv is the environment without Shopgraph's settings, so that only
// the harness's flags configure the system it measures.
func childEnv(env []string) []string {
	var out []string
	for _, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "SHOPGRAPH_") || k == "DATABASE_URL" || strings.HasSuffix(k, "_DATABASE_URL") ||
			k == "MONGODB_URI" || k == "REDIS_URL" {
			continue
		}
		out = append(out, kv)
	}
	return out
}

// stop asks the process to shut down and kills it if it has not within 30s.
func (p *process) stop() {
	select {
	case <-p.exited:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(30 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.exited
	}
}

// Exited reports a process that stopped before Close, with its last output.
func (s *system) Exited() error {
	var errs []error
	for _, p := range s.procs {
		select {
		case <-p.exited:
			errs = append(errs, fmt.Errorf("%s exited during the run (%v):\n%s", p.name, p.err, p.stderr))
		default:
		}
	}
	return errors.Join(errs...)
}

// Close stops the processes (the gateway first), drops the database,
// deletes the Redis keys and removes the directory.
func (s *system) Close() {
	for i := len(s.procs) - 1; i >= 0; i-- {
		s.procs[i].stop()
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if s.adminDBURL != "" {
		if conn, err := pgx.Connect(ctx, s.adminDBURL); err != nil {
			fmt.Fprintf(s.log, "bench: drop database %s: %v\n", s.dbName, err)
		} else {
			if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{s.dbName}.Sanitize()+" WITH (FORCE)"); err != nil {
				fmt.Fprintf(s.log, "bench: drop database %s: %v\n", s.dbName, err)
			}
			_ = conn.Close(ctx)
		}
	}
	if s.redisURL != "" {
		if err := deleteKeys(ctx, s.redisURL, s.redisPrefix); err != nil {
			fmt.Fprintf(s.log, "bench: delete Redis keys %s*: %v\n", s.redisPrefix, err)
		}
	}
	if s.dir != "" {
		_ = os.RemoveAll(s.dir)
	}
}

func deleteKeys(ctx context.Context, redisURL, prefix string) error {
	opt, err := redis.ParseURL(redisURL)
	if err != nil {
		return err
	}
	rdb := redis.NewClient(opt)
	defer rdb.Close()
	iter := rdb.Scan(ctx, 0, prefix+"*", 1000).Iterator()
	var keys []string
	for iter.Next(ctx) {
		keys = append(keys, iter.Val())
	}
	if err := iter.Err(); err != nil {
		return err
	}
	for len(keys) > 0 {
		n := min(len(keys), 500)
		if err := rdb.Unlink(ctx, keys[:n]...).Err(); err != nil {
			return err
		}
		keys = keys[n:]
	}
	return nil
}

func randomID() string {
	b := make([]byte, 5)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// tail keeps the last max bytes written to it.
type tail struct {
	mu  sync.Mutex
	max int
	b   []byte
}

func (t *tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if len(t.b) > t.max {
		t.b = t.b[len(t.b)-t.max:]
	}
	return len(p), nil
}

func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.b)
}

// freeAddr returns a loopback address with a port free at the moment.
func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}
