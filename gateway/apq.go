package gateway

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"net/http"

	lru "github.com/hashicorp/golang-lru/v2"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// Automatic persisted queries, per Apollo's convention: a client sends
// extensions.persistedQuery {version: 1, sha256Hash} with or without the
// query. Without it, the gateway answers from its store or with
// PERSISTED_QUERY_NOT_FOUND, and the client sends the query again with the
// hash. With it, the hash must be the query's SHA-256, or the request is
// refused and nothing is stored: a client cannot register one query under
// another's hash (the poisoning nautilus's own cache allows, see
// NAUTILUS.md). The query is stored once it has been prepared without error.

// Codes of persisted-query errors, in extensions.code.
const (
	codePersistedQueryNotFound = "PERSISTED_QUERY_NOT_FOUND"
)

// apqStore maps the SHA-256 of queries to their text. It is bounded: the
// least recently used query goes first.
type apqStore struct {
	lru *lru.Cache[[sha256.Size]byte, string]
}

func newAPQStore(size int) *apqStore {
	c, err := lru.New[[sha256.Size]byte, string](size)
	if err != nil {
		panic("APQ store: " + err.Error()) // only for a size below 1, which validate rules out
	}
	return &apqStore{lru: c}
}

// persisted is a request's persisted-query extension.
type persisted struct {
	hash [sha256.Size]byte
}

// resolvePersisted applies the persisted-query extension of p, if any: it
// fills in a missing query from the store and checks a given one against
// the hash. The returned *persisted is nil without the extension; the
// caller stores the query with remember once it has been prepared.
func (g *Gateway) resolvePersisted(p *params) (*persisted, int, *gqlerror.Error) {
	raw, ok := p.Extensions["persistedQuery"]
	if !ok {
		return nil, 0, nil
	}
	ext, _ := raw.(map[string]any)
	if v, _ := ext["version"].(float64); v != 1 {
		return nil, http.StatusBadRequest, requestError(codeBadRequest, "persistedQuery: only version 1 is supported")
	}
	s, _ := ext["sha256Hash"].(string)
	var pq persisted
	if n, err := hex.Decode(pq.hash[:], []byte(s)); err != nil || n != sha256.Size || len(s) != 2*sha256.Size {
		return nil, http.StatusBadRequest, requestError(codeBadRequest, "persistedQuery: sha256Hash must be 64 hexadecimal digits")
	}
	if p.Query == "" {
		q, found := g.apq.lru.Get(pq.hash)
		if !found {
			return nil, http.StatusOK, requestError(codePersistedQueryNotFound, "PersistedQueryNotFound")
		}
		p.Query = q
		return nil, 0, nil // already stored
	}
	sum := sha256.Sum256([]byte(p.Query))
	if subtle.ConstantTimeCompare(sum[:], pq.hash[:]) != 1 {
		return nil, http.StatusBadRequest, requestError(codeBadRequest, fmt.Sprintf(
			"persistedQuery: sha256Hash is not the SHA-256 of the query (that is %x)", sum))
	}
	return &pq, 0, nil
}

// remember stores the query of a request whose hash was verified.
func (g *Gateway) remember(pq *persisted, query string) {
	if pq != nil {
		g.apq.lru.Add(pq.hash, query)
	}
}
