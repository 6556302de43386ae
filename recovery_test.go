package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/shopgraph/shopgraph/internal/testenv"
)

// Fault tests: the stores or a process die under a running shop, and the
// shop converges on its own, with nothing reserved, no authorized payment on
// a cancelled order, and every order in a final or progressing state.

// ownRedis is a redis-server of the test's own on a free port, without
// persistence: restarting it empties it.
type ownRedis struct {
	t    *testing.T
	port int
	cmd  *exec.Cmd
}

func startOwnRedis(t *testing.T) *ownRedis {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		t.Skip("redis-server not installed")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &ownRedis{t: t, port: l.Addr().(*net.TCPAddr).Port}
	l.Close()
	r.start()
	t.Cleanup(r.stop)
	return r
}

func (r *ownRedis) URL() string { return "redis://127.0.0.1:" + strconv.Itoa(r.port) + "/0" }

// start starts the server, empty, and waits until it answers.
func (r *ownRedis) start() {
	r.t.Helper()
	r.cmd = exec.Command("redis-server", "--port", strconv.Itoa(r.port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", r.t.TempDir())
	if err := r.cmd.Start(); err != nil {
		r.t.Fatal(err)
	}
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:" + strconv.Itoa(r.port)})
	defer c.Close()
	deadline := time.Now().Add(10 * time.Second)
	for c.Ping(context.Background()).Err() != nil {
		if time.Now().After(deadline) {
			r.t.Fatal("own redis-server did not answer in 10s")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// stop kills the server at once.
func (r *ownRedis) stop() {
	if r.cmd != nil && r.cmd.Process != nil {
		_ = r.cmd.Process.Kill()
		_ = r.cmd.Wait()
		r.cmd = nil
	}
}

// readyz returns the gateway's /readyz status code.
func readyz(t *testing.T, s *system) int {
	t.Helper()
	res, err := http.Get(s.Base + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	return res.StatusCode
}

func waitReadyz(t *testing.T, s *system, want int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for got := readyz(t, s); got != want; got = readyz(t, s) {
		if time.Now().After(deadline) {
			t.Fatalf("/readyz = %d after 30s, want %d", got, want)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// orderOutcome waits for the order to reach a final status of the checkout
// saga and checks that a cancelled order keeps no authorized payment.
func orderOutcome(t *testing.T, c *client, id string) string {
	t.Helper()
	o := waitStatus(t, c, id, "")
	st := str(o, "status")
	if st == "CANCELLED" || st == "REJECTED" {
		waitPaymentNot(t, c, id, "AUTHORIZED")
	}
	return st
}

// waitPaymentNot waits until the order's payment, if any, is not in status.
func waitPaymentNot(t *testing.T, c *client, orderID, status string) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		d := c.must(`query($id: ID!) { order(id: $id) { payment { status } } }`, map[string]any{"id": orderID})
		if str(d, "order", "payment", "status") != status {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("cancelled order %s keeps an %s payment", orderID, status)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestRedisRestartedEmpty: Redis dies under a running shop. While it is
// down, /readyz says 503 and placeOrder answers UNAVAILABLE; once it is back
// (empty: streams, groups and carts are gone), the shop recovers without a
// restart: new orders complete, a cancelled order's payment is voided, the
// order caught in flight ends final, and nothing stays reserved.
func TestRedisRestartedEmpty(t *testing.T) {
	t.Parallel()
	rds := startOwnRedis(t)
	s := newShop(t, "-redis-url="+rds.URL(), "-saga-step-timeout=15s", "-shipping-step-interval=0")
	skus := s.stock(t, "Lamp", 10, 1500)
	if readyz(t, s.system) != http.StatusOK {
		t.Fatal("/readyz is not 200 before the fault")
	}
	buyer := s.customer(t)
	before := checkout(t, buyer, "tok_visa", map[string]int{skus[0]: 1})
	waitStatus(t, buyer, before, "CONFIRMED")

	// An order in flight when Redis dies.
	inflight := s.customer(t)
	if r := addToCart(t, inflight, skus[0], 1); len(r.Errors) > 0 {
		t.Fatal(r.Raw)
	}
	caught := str(inflight.must(placeOrderMutation, placeInput("tok_visa", "key-"+testenv.ID())), "placeOrder", "id")
	rds.stop()

	waitReadyz(t, s.system, http.StatusServiceUnavailable)
	r := buyer.do(placeOrderMutation, placeInput("tok_visa", "key-"+testenv.ID()))
	if r.Code() != "UNAVAILABLE" {
		t.Errorf("placeOrder with Redis down: %s, want extensions.code UNAVAILABLE", r.Raw)
	}

	rds.start() // empty
	waitReadyz(t, s.system, http.StatusOK)
	// The cart lived in Redis and is gone (README says so): fill it again.
	after := checkout(t, buyer, "tok_visa", map[string]int{skus[0]: 2})
	decliner := s.customer(t)
	declined := checkout(t, decliner, "tok_chargeDeclined", map[string]int{skus[0]: 1})
	if st := orderOutcome(t, buyer, after); st != "CONFIRMED" {
		t.Errorf("order placed after the restart ended %s, want CONFIRMED", st)
	}
	if st := orderOutcome(t, decliner, declined); st != "CANCELLED" {
		t.Errorf("declined order placed after the restart ended %s, want CANCELLED", st)
	}
	// A confirmed order (authorized before the fault) cancelled after it: the
	// void goes through the recreated streams and groups.
	d := buyer.must(`mutation($id: ID!) { cancelOrder(id: $id, reason: "changed my mind") { status } }`, map[string]any{"id": before})
	if str(d, "cancelOrder", "status") != "CANCELLED" {
		t.Fatalf("cancelOrder = %v", d)
	}
	waitPayment(t, buyer, before, "VOIDED")
	caughtStatus := orderOutcome(t, inflight, caught)
	t.Logf("order in flight at the fault ended %s", caughtStatus)
	sold := 2 // after; before was cancelled
	if caughtStatus == "CONFIRMED" {
		sold++
	}
	waitLevel(t, s, skus[0], 10-sold, 0)
}

// helperEnv names the environment variable that makes the test binary run
// shopgraph (TestHelperShopgraph) instead of tests: a process to kill -9.
const helperEnv = "SHOPGRAPH_TEST_HELPER_ARGS"

// TestHelperShopgraph is not a test: run as a subprocess by startProcess, it
// runs shopgraph with the arguments in $SHOPGRAPH_TEST_HELPER_ARGS until killed.
func TestHelperShopgraph(t *testing.T) {
	raw := os.Getenv(helperEnv)
	if raw == "" {
		t.Skip("helper process for TestKilledInstanceMidSaga")
	}
	var args []string
	if err := json.Unmarshal([]byte(raw), &args); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	err := run(context.Background(), args, func(string) string { return "" }, os.Stdout)
	fmt.Fprintln(os.Stderr, "shopgraph:", err)
	os.Exit(1)
}

// startProcess starts shopgraph on st in a process of its own, so that it
// can be killed with SIGKILL; it returns the system and the process.
func startProcess(t *testing.T, st stores, extra ...string) (*system, *os.Process) {
	t.Helper()
	u, err := url.Parse(testenv.DatabaseURL())
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + st.dbName
	args := []string{
		"-host=127.0.0.1", "-data-dir=" + st.dataDir,
		"-database-url=" + u.String(), "-redis-url=" + testenv.RedisURL(), "-redis-prefix=" + st.prefix,
		"-admin-email=" + adminEmail, "-admin-password=" + adminPassword,
		"-log-level=error", "-register-limit-address=100000",
	}
	for _, p := range []string{"gateway", "users", "products", "inventory", "orders", "payments", "shipping", "notifications"} {
		args = append(args, "-"+p+"-port=0")
	}
	args = append(args, extra...)
	raw, _ := json.Marshal(args)
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperShopgraph$", "-test.count=1")
	cmd.Env = append(os.Environ(), helperEnv+"="+string(raw))
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	urlc := make(chan string, 1)
	go func() {
		lines := bufio.NewScanner(out)
		for lines.Scan() {
			if rest, ok := strings.CutPrefix(lines.Text(), "GraphQL:"); ok {
				urlc <- strings.TrimSpace(rest)
			}
		}
		close(urlc)
	}()
	s := &system{t: t, DataDir: st.dataDir, cancel: func() {}}
	select {
	case s.URL = <-urlc:
	case <-time.After(3 * time.Minute):
		t.Fatal("shopgraph process did not start in 3 minutes")
	}
	if s.URL == "" {
		t.Fatal("shopgraph process stopped at start-up")
	}
	s.Base = strings.TrimSuffix(s.URL, "/graphql")
	return s, cmd.Process
}

// TestKilledInstanceMidSaga: the shop's process is killed with SIGKILL
// while its orders are mid-saga (commands read but not acknowledged, rows in
// the outbox). Another instance on the same stores resumes them: every
// order is confirmed well inside the two-minute step deadline, none
// cancelled for waiting on the dead process, and nothing stays reserved.
func TestKilledInstanceMidSaga(t *testing.T) {
	t.Parallel()
	st := newStores(t)
	first, proc := startProcess(t, st, "-shipping-step-interval=0")
	s := &shop{system: first, admin: first.client(adminToken(t, first))}
	skus := s.stock(t, "Kettle", 10, 2500)
	const n = 6
	buyers := make([]*client, n)
	for i := range buyers {
		buyers[i] = s.customer(t)
		if r := addToCart(t, buyers[i], skus[0], 1); len(r.Errors) > 0 {
			t.Fatal(r.Raw)
		}
	}
	ids := make([]string, n)
	var wg sync.WaitGroup
	for i := range buyers {
		wg.Go(func() {
			r := buyers[i].do(placeOrderMutation, placeInput("tok_visa", "kill-"+testenv.ID()))
			ids[i] = str(r.Data, "placeOrder", "id")
		})
	}
	wg.Wait()
	if err := proc.Signal(syscall.SIGKILL); err != nil { // mid-saga
		t.Fatal(err)
	}
	_, _ = proc.Wait()

	second := startSystemOn(t, st, "-shipping-step-interval=0")
	began := time.Now()
	s = &shop{system: second, admin: second.client(adminToken(t, second))}
	for i, id := range ids {
		if id == "" {
			t.Fatalf("placeOrder %d failed before the kill", i)
		}
		c := second.client(buyers[i].token)
		o := waitStatus(t, c, id, "")
		if st := str(o, "status"); st != "CONFIRMED" {
			t.Errorf("order %d ended %s (%s): %s, want CONFIRMED", i, st, str(o, "statusReason"), timelineTypes(o))
		}
	}
	took := time.Since(began)
	t.Logf("every order resumed %v after the second instance started", took.Round(time.Millisecond))
	// A dead consumer's messages are claimed after about 5 s; before, they
	// waited a minute or two (ClaimIdle), up to the step deadline.
	if took > 30*time.Second {
		t.Errorf("orders took %v to resume, want well inside the 2 minute step deadline", took)
	}
	waitLevel(t, s, skus[0], 10-n, 0)
}

// ownPostgres is a PostgreSQL cluster of the test's own on a free port,
// run as the postgres user (initdb refuses root).
type ownPostgres struct {
	t    *testing.T
	dir  string
	port int
}

func startOwnPostgres(t *testing.T) *ownPostgres {
	t.Helper()
	if _, err := exec.LookPath("pg_ctl"); err != nil {
		t.Skip("pg_ctl not installed")
	}
	if os.Geteuid() != 0 {
		t.Skip("own PostgreSQL cluster: needs root to run initdb as the postgres user")
	}
	pgUser, err := user.Lookup("postgres")
	if err != nil {
		t.Skip("no postgres user")
	}
	dir, err := os.MkdirTemp("", "shopgraph-pg-")
	if err != nil {
		t.Fatal(err)
	}
	uid, _ := strconv.Atoi(pgUser.Uid)
	gid, _ := strconv.Atoi(pgUser.Gid)
	if err := os.Chown(dir, uid, gid); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &ownPostgres{t: t, dir: dir, port: l.Addr().(*net.TCPAddr).Port}
	l.Close()
	p.as("initdb", "-D", dir+"/data", "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync")
	p.start()
	t.Cleanup(func() {
		p.stop()
		_ = os.RemoveAll(dir)
	})
	return p
}

// as runs a PostgreSQL program as the postgres user.
func (p *ownPostgres) as(args ...string) {
	p.t.Helper()
	cmd := exec.Command("runuser", append([]string{"-u", "postgres", "--"}, args...)...)
	if out, err := cmd.CombinedOutput(); err != nil {
		p.t.Fatalf("%v: %v\n%s", args, err, out)
	}
}

func (p *ownPostgres) URL() string {
	return "postgres://postgres@127.0.0.1:" + strconv.Itoa(p.port) + "/shop?sslmode=disable"
}

func (p *ownPostgres) start() {
	p.t.Helper()
	p.as("pg_ctl", "start", "-w", "-D", p.dir+"/data", "-l", p.dir+"/log", "-o",
		fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c max_connections=60 -c fsync=off", p.port, p.dir))
}

// stop stops the cluster at once, dropping every connection.
func (p *ownPostgres) stop() {
	cmd := exec.Command("runuser", "-u", "postgres", "--", "pg_ctl", "stop", "-w", "-m", "immediate", "-D", p.dir+"/data")
	_ = cmd.Run()
}

// TestPostgresOutage: PostgreSQL dies under a running shop. /readyz says
// 503 and placeOrder answers UNAVAILABLE (not INTERNAL); once PostgreSQL is
// back, /readyz is 200 again and orders complete, without a restart.
func TestPostgresOutage(t *testing.T) {
	t.Parallel()
	pg := startOwnPostgres(t)
	s := newShop(t, "-database-url="+pg.URL(), "-shipping-step-interval=0")
	skus := s.stock(t, "Chair", 10, 4000)
	buyer := s.customer(t)
	waitStatus(t, buyer, checkout(t, buyer, "tok_visa", map[string]int{skus[0]: 1}), "CONFIRMED")
	if r := addToCart(t, buyer, skus[0], 1); len(r.Errors) > 0 {
		t.Fatal(r.Raw)
	}

	pg.stop()
	waitReadyz(t, s.system, http.StatusServiceUnavailable)
	r := buyer.do(placeOrderMutation, placeInput("tok_visa", "key-"+testenv.ID()))
	if r.Code() != "UNAVAILABLE" {
		t.Errorf("placeOrder with PostgreSQL down: %s, want extensions.code UNAVAILABLE", r.Raw)
	}

	pg.start()
	waitReadyz(t, s.system, http.StatusOK)
	id := str(buyer.must(placeOrderMutation, placeInput("tok_visa", "key-"+testenv.ID())), "placeOrder", "id")
	waitStatus(t, buyer, id, "CONFIRMED")
	waitLevel(t, s, skus[0], 8, 0)
}
