// Package composition checks that the subgraph schemas under schema/ compose
// into an Apollo Federation v2 supergraph. The check itself is compose.mjs
// (Apollo's composition library exists only for Node); these tests install
// its pinned packages when node_modules is missing and run it, so that
// `go test ./...` covers composition.
package composition

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// node returns the path of the node binary after making sure the pinned
// packages are installed. Without Node it skips the test, except in CI
// (CI=true), where a missing check must fail.
func node(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("node")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("node is not installed: the composition check needs Node 20 or later")
		}
		t.Skip("node is not installed: install Node 20 or later to check composition")
	}
	installOnce.Do(func() { installErr = install() })
	if installErr != nil {
		t.Fatal(installErr)
	}
	return path
}

var (
	installOnce sync.Once
	installErr  error
)

// install runs `npm ci` when node_modules is missing or older than
// package-lock.json.
func install() error {
	lock, err := os.Stat("package-lock.json")
	if err != nil {
		return err
	}
	installed, err := os.Stat(filepath.Join("node_modules", ".package-lock.json"))
	if err == nil && !installed.ModTime().Before(lock.ModTime()) {
		return nil
	}
	out, err := exec.Command("npm", "ci", "--no-audit", "--no-fund").CombinedOutput()
	if err != nil {
		return fmt.Errorf("npm ci: %w\n%s", err, out)
	}
	return nil
}

// compose runs compose.mjs on the schema root and returns its exit code and
// combined output.
func compose(t *testing.T, root string) (int, string) {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), node(t), "compose.mjs", root)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return 0, out.String()
	case errors.As(err, &exit):
		return exit.ExitCode(), out.String()
	default:
		t.Fatalf("run compose.mjs: %v\n%s", err, out.String())
		return 0, ""
	}
}

// subgraphs lists the subgraph folders of a schema root.
func subgraphs(t *testing.T, root string) []string {
	t.Helper()
	entries, err := os.ReadDir(root)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		if e.IsDir() && e.Name() != "shared" && !strings.HasPrefix(e.Name(), ".") {
			names = append(names, e.Name())
		}
	}
	return names
}

// TestSchemasCompose composes the repository's schemas, as CI does.
func TestSchemasCompose(t *testing.T) {
	t.Parallel()
	root := filepath.Join("..", "..", "schema")
	code, out := compose(t, root)
	if code != 0 {
		t.Fatalf("schema/ does not compose (exit %d):\n%s", code, out)
	}
	t.Log(strings.TrimSpace(out))
	for _, name := range subgraphs(t, root) {
		if !strings.Contains(out, name) {
			t.Errorf("subgraph %s is missing from the summary: %s", name, out)
		}
	}
}

// TestBrokenSchemasFail changes a copy of the repository's schemas and checks
// that the script accepts a compatible change and rejects broken ones, naming
// the problem. In a file path, {first} stands for the first subgraph folder.
func TestBrokenSchemasFail(t *testing.T) {
	t.Parallel()
	source := filepath.Join("..", "..", "schema")
	names := subgraphs(t, source)
	if len(names) == 0 {
		t.Fatal("schema/ has no subgraph folders besides shared/")
	}
	tests := []struct {
		name     string
		files    map[string]string // path under the copy → its SDL (a new file)
		wantCode int
		want     []string
	}{
		{
			name: "a compatible type added to a subgraph",
			files: map[string]string{
				"{first}/zz_extra.graphqls": "type Extra { id: ID! total: Money! }\nextend type Query { extra: Extra }\n",
			},
			wantCode: 0,
			want:     []string{"composed", names[0]},
		},
		{
			name: "a type defined differently in two subgraphs",
			files: map[string]string{
				"{first}/zz_conflict.graphqls": "type Conflict @shareable { id: ID! value: Int! }\nextend type Query { a: Conflict }\n",
				"conflict/conflict.graphqls":   "type Conflict @shareable { id: ID! value: String! }\nextend type Query { b: Conflict }\n",
			},
			wantCode: 1,
			want: []string{
				"FIELD_TYPE_MISMATCH", `"Conflict.value"`,
				filepath.Join("schema", "conflict", "conflict.graphqls"), "do not compose",
			},
		},
		{
			name: "a Node type that the other subgraphs have no stub of",
			files: map[string]string{
				"gadgets/gadget.graphqls": "type Gadget implements Node @key(fields: \"id\") { id: ID! }\nextend type Query { gadget: Gadget }\n",
			},
			wantCode: 1,
			want:     []string{"SHAREABLE_HAS_MISMATCHED_RUNTIME_TYPES", `"Query.node"`, "do not compose"},
		},
		{
			name: "a syntax error",
			files: map[string]string{
				"{first}/zz_broken.graphqls": "type Broken {\n",
			},
			wantCode: 1,
			want:     []string{"Syntax Error", filepath.Join(names[0], "zz_broken.graphqls") + ":2", "nothing composed"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			root := filepath.Join(t.TempDir(), "schema")
			if err := os.CopyFS(root, os.DirFS(source)); err != nil {
				t.Fatal(err)
			}
			for path, sdl := range tt.files {
				path = filepath.Join(root, strings.ReplaceAll(path, "{first}", names[0]))
				if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, []byte(sdl), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			code, out := compose(t, root)
			if code != tt.wantCode {
				t.Fatalf("exit code %d, want %d; output:\n%s", code, tt.wantCode, out)
			}
			for _, w := range tt.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
		})
	}
}
