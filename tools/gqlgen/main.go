// Command gqlgen generates every subgraph's GraphQL code from the one root
// gqlgen.yml: for each folder schema/<name>/ (other than shared/) it reads the
// config with {subgraph} replaced by <name>, merges the optional
// schema/<name>/gqlgen.yml (models and autobind only), and runs gqlgen.
// Run it from the repository root: `go generate ./...` does.
//
// Usage: go run ./tools/gqlgen [subgraph ...]
package main

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"strings"

	"github.com/99designs/gqlgen/api"
	"github.com/99designs/gqlgen/codegen/config"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "gqlgen:", err)
		os.Exit(1)
	}
}

func run(names []string) error {
	raw, err := os.ReadFile("gqlgen.yml")
	if err != nil {
		return fmt.Errorf("run from the repository root: %w", err)
	}
	if len(names) == 0 {
		entries, err := os.ReadDir("schema")
		if err != nil {
			return err
		}
		for _, e := range entries {
			if e.IsDir() && e.Name() != "shared" {
				names = append(names, e.Name())
			}
		}
	}
	for _, name := range names {
		if err := generate(string(raw), name); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
	}
	return nil
}

func generate(raw, name string) error {
	cfg, err := config.ReadConfig(strings.NewReader(strings.ReplaceAll(raw, "{subgraph}", name)))
	if err != nil {
		return err
	}
	overlay := filepath.Join("schema", name, "gqlgen.yml")
	if f, err := os.Open(overlay); err == nil {
		defer f.Close()
		o, err := config.ReadConfig(f)
		if err != nil {
			return fmt.Errorf("%s: %w", overlay, err)
		}
		maps.Copy(cfg.Models, o.Models)
		cfg.AutoBind = append(cfg.AutoBind, o.AutoBind...)
		for k, v := range o.Directives {
			cfg.Directives[k] = v
		}
	}
	fmt.Fprintf(os.Stderr, "gqlgen: generating subgraphs/%s/graph\n", name)
	return api.Generate(cfg)
}
