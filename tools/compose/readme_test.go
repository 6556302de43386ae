package compose

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/shopgraph/shopgraph/internal/config"
)

// setting is one flag as `shopgraph -h` prints it.
type setting struct{ env, def string }

var (
	helpFlag  = regexp.MustCompile(`^  -([a-z0-9-]+)(?: \w+)?$`)
	helpUsage = regexp.MustCompile(`\(\$([A-Z0-9_]+)\)(?: \(default (.*)\))?$`)
	readmeRow = regexp.MustCompile("^\\| `(-[a-z<>-]+)` \\| `([A-Z<>_]+)` \\| ([^|]*) \\|")
	firstCode = regexp.MustCompile("`([^`]*)`")
)

// settings runs the binary's flag parsing with -h and an empty environment.
func settings(t *testing.T) map[string]setting {
	t.Helper()
	var out bytes.Buffer
	if _, err := config.Load([]string{"-h"}, func(string) string { return "" }, &out); !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("shopgraph -h: %v", err)
	}
	got := map[string]setting{}
	lines := strings.Split(out.String(), "\n")
	for i := 0; i+1 < len(lines); i++ {
		f := helpFlag.FindStringSubmatch(lines[i])
		if f == nil {
			continue
		}
		u := helpUsage.FindStringSubmatch(strings.TrimSpace(lines[i+1]))
		if u == nil {
			t.Fatalf("-%s: no ($VARIABLE) in %q", f[1], lines[i+1])
		}
		got["-"+f[1]] = setting{env: u[1], def: strings.Trim(u[2], `"`)}
	}
	if len(got) == 0 {
		t.Fatalf("no flags in shopgraph -h:\n%s", out.String())
	}
	return got
}

// TestReadmeDocumentsEverySetting checks README.md's configuration table
// against the flags: every flag with its variable, no flag that does not
// exist, and the default of each one-flag row.
func TestReadmeDocumentsEverySetting(t *testing.T) {
	t.Parallel()
	want := settings(t)
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	documented := map[string]bool{}
	for _, line := range strings.Split(string(readme), "\n") {
		row := readmeRow.FindStringSubmatch(line)
		if row == nil {
			continue
		}
		flagName, env, def := row[1], row[2], strings.TrimSpace(row[3])
		names := []string{""}
		if strings.Contains(flagName, "<service>") {
			names = config.Services
			if strings.Contains(flagName, "database-url") {
				names = config.PostgresServices
			}
		}
		for _, s := range names {
			f := strings.ReplaceAll(flagName, "<service>", s)
			e := strings.ReplaceAll(env, "<SERVICE>", strings.ToUpper(s))
			documented[f] = true
			h, ok := want[f]
			switch {
			case !ok:
				t.Errorf("README documents %s, which shopgraph does not have", f)
			case h.env != e:
				t.Errorf("README: %s reads $%s, not $%s", f, h.env, e)
			case s == "" && h.def == "" && !strings.HasPrefix(def, "—"):
				t.Errorf("README: %s has no default, the row says %s", f, def)
			case s == "" && h.def != "":
				m := firstCode.FindStringSubmatch(def)
				if m == nil || !sameDefault(m[1], h.def) {
					t.Errorf("README: %s defaults to %q, the row says %s", f, h.def, def)
				}
			}
		}
	}
	for f, h := range want {
		if !documented[f] {
			t.Errorf("README's configuration table lacks %s ($%s)", f, h.env)
		}
	}
}

// sameDefault compares a default as written in README with -h's, durations
// by value (15m is 15m0s).
func sameDefault(readme, help string) bool {
	if readme == help {
		return true
	}
	a, errA := time.ParseDuration(readme)
	b, errB := time.ParseDuration(help)
	return errA == nil && errB == nil && a == b
}
