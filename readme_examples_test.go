package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/parser"

	"github.com/shopgraph/shopgraph/internal/testenv"
)

// TestReadmeExamples runs every GraphQL block of README.md as pasted into
// GraphiQL, in order, against a running shop: each block must parse, hold
// one operation or only named ones, and every operation must succeed with
// the admin's or the customer's token (the only edits: the admin's
// credentials and the customer's email, which the README leaves to the
// reader, and $id, which it says to take from placeOrder).
func TestReadmeExamples(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := regexp.MustCompile("(?s)```graphql\n(.*?)```").FindAllStringSubmatch(string(raw), -1)
	if len(blocks) < 7 {
		t.Fatalf("README has %d graphql blocks", len(blocks))
	}
	s := startSystem(t)
	email := "ada-" + testenv.ID() + "@example.com"
	r := strings.NewReplacer(
		"admin@example.com", adminEmail,
		"your SHOPGRAPH_ADMIN_PASSWORD", adminPassword,
		"ada@example.com", email,
	)
	anon := s.client("")
	var admin, customer *client
	var orderID string
	for i, b := range blocks {
		text := r.Replace(b[1])
		doc, perr := parser.ParseQuery(&ast.Source{Name: "README block", Input: text})
		if perr != nil {
			t.Fatalf("block %d does not parse: %v\n%s", i+1, perr, b[1])
		}
		if len(doc.Operations) > 1 {
			for _, op := range doc.Operations {
				if op.Name == "" {
					t.Fatalf("block %d holds several operations, one anonymous: GraphiQL cannot run it\n%s", i+1, b[1])
				}
			}
		}
		for _, op := range doc.Operations {
			c := customer
			switch op.Name {
			case "AdminLogin", "SignUp":
				c = anon
			case "CreateShirt", "ReceiveShirts":
				c = admin
			}
			if c == nil {
				t.Fatalf("block %d, %s: no token yet; the README must say how to get it first", i+1, op.Name)
			}
			vars := map[string]any{}
			for _, v := range op.VariableDefinitions {
				if v.Variable != "id" {
					t.Fatalf("block %d, %s: variable $%s is not explained", i+1, op.Name, v.Variable)
				}
				vars["id"] = orderID
			}
			if op.Operation == ast.Subscription {
				f := subscribeWS(t, s, "graphql-transport-ws", customer.token, text, vars)
				select {
				case u, ok := <-f.updates:
					if !ok || u["status"] == nil {
						t.Fatalf("block %d, %s: %v", i+1, op.Name, u)
					}
				case e := <-f.errs:
					t.Fatalf("block %d, %s: %s", i+1, op.Name, e)
				}
				continue
			}
			d := c.doOp(text, op.Name, vars)
			if len(d.Errors) > 0 || d.Data == nil {
				t.Fatalf("block %d, %s failed: %s", i+1, op.Name, d.Raw)
			}
			switch op.Name {
			case "AdminLogin":
				admin = s.client(str(d.Data, "login", "accessToken"))
			case "SignUp":
				customer = s.client(str(d.Data, "register", "accessToken"))
			case "PlaceOrder":
				orderID = str(d.Data, "placeOrder", "id")
			}
		}
	}
	if orderID == "" {
		t.Fatal("no block placed an order")
	}
}

// doOp posts a document with the operation to run, as GraphiQL does.
func (c *client) doOp(query, operationName string, vars map[string]any) gqlResponse {
	c.t.Helper()
	body, _ := json.Marshal(map[string]any{"query": query, "operationName": operationName, "variables": vars})
	req, _ := http.NewRequest(http.MethodPost, c.url, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	return c.send(req)
}
