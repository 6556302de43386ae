package gateway

import (
	"strconv"
	"strings"

	lru "github.com/hashicorp/golang-lru/v2"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/lexer"
)

// planCache keeps the operations prepared against one snapshot's schema —
// parsed, validated, checked against the limits and planned — so that a
// repeated operation is none of these again. It is bounded: the least
// recently used operation goes first. Only operations that passed every
// check are kept.
type planCache struct {
	lru *lru.Cache[string, *operation]
}

func newPlanCache(size int) *planCache {
	c, err := lru.New[string, *operation](size)
	if err != nil {
		panic("plan cache: " + err.Error()) // only for a size below 1, which validate rules out
	}
	return &planCache{lru: c}
}

func (c *planCache) get(key string) (*operation, bool) { return c.lru.Get(key) }

func (c *planCache) add(key string, op *operation) { c.lru.Add(key, op) }

// len is the number of operations kept.
func (c *planCache) len() int { return c.lru.Len() }

// planKey is the cache key of the operation named operationName in query:
// the query's tokens without whitespace, commas or comments, so that the
// same operation formatted differently shares an entry. ok is false for
// text that does not lex; the parser reports why.
func planKey(query, operationName string) (key string, ok bool) {
	l := lexer.New(&ast.Source{Input: query})
	var b strings.Builder
	b.Grow(len(query) + len(operationName) + 1)
	b.WriteString(operationName)
	b.WriteByte('\n')
	word := false // the last token written was a name or a number
	for {
		tok, err := l.ReadToken()
		if err != nil {
			return "", false
		}
		switch tok.Kind {
		case lexer.EOF:
			return b.String(), true
		case lexer.Comment:
			continue
		case lexer.Name, lexer.Int, lexer.Float:
			if word {
				b.WriteByte(' ')
			}
			b.WriteString(tok.Value)
			word = true
		case lexer.String, lexer.BlockString:
			// The key is never parsed: any quoting that keeps strings apart
			// from the tokens around them will do.
			b.WriteString(strconv.Quote(tok.Value))
			word = false
		default:
			b.WriteString(tok.Value)
			word = false
		}
	}
}
