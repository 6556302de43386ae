package gateway

import (
	"mime"
	"net/http"
	"strconv"
	"strings"
)

// Media types the gateway answers GraphQL requests with.
const (
	mediaJSON             = "application/json"
	mediaGraphQLResponse  = "application/graphql-response+json"
	mediaEventStream      = "text/event-stream"
	mediaTypeParamCharset = "; charset=utf-8"
)

// negotiation is what a request's Accept header asks for.
type negotiation struct {
	// preferred is the media type to answer a query or mutation with:
	// application/json, application/graphql-response+json or
	// text/event-stream.
	preferred string
	// eventStream reports whether the request names text/event-stream
	// with a q above 0: a subscription is then answered with Server-Sent
	// Events.
	eventStream bool
}

// negotiate reads r's Accept header (RFC 9110, section 12.5.1): each type
// the gateway offers takes the q of the most specific range that matches
// it; the highest q wins, and between equal q the range the client listed
// first. So urql's default, "application/graphql-response+json,
// application/graphql+json, application/json, text/event-stream,
// multipart/mixed", gets application/graphql-response+json, and a header
// that lists text/event-stream after a JSON type, or with a lower q, gets
// JSON for a query. No header, */*, or nothing the gateway offers gets
// application/json, as the GraphQL over HTTP spec asks of a server that
// supports legacy clients.
//
// Written by hand: munnerz/goautoneg, the package at hand, sorts equal q by
// specificity with an unstable sort and so loses the client's order.
func negotiate(r *http.Request) negotiation {
	type match struct {
		q           float64
		specificity int // 0 none, 1 */*, 2 type/*, 3 exact
		position    int
	}
	offers := []string{mediaJSON, mediaGraphQLResponse, mediaEventStream} // ties on one range: this order
	best := make([]match, len(offers))
	position := 0
	for _, header := range r.Header.Values("Accept") {
		for part := range strings.SplitSeq(header, ",") {
			part = strings.TrimSpace(part)
			if part == "" {
				continue
			}
			mt, params, err := mime.ParseMediaType(part)
			if err != nil {
				continue
			}
			q := 1.0
			if s, ok := params["q"]; ok {
				if q, err = strconv.ParseFloat(s, 64); err != nil || q < 0 || q > 1 {
					continue
				}
			}
			position++
			for i, offer := range offers {
				spec := specificity(mt, offer)
				if spec > best[i].specificity {
					best[i] = match{q: q, specificity: spec, position: position}
				}
			}
		}
	}
	n := negotiation{preferred: mediaJSON}
	if best[2].specificity == 3 && best[2].q > 0 {
		n.eventStream = true
	}
	chosen := -1
	for i, m := range best {
		if m.specificity == 0 || m.q <= 0 {
			continue
		}
		if chosen < 0 || m.q > best[chosen].q || (m.q == best[chosen].q && m.position < best[chosen].position) {
			chosen = i
		}
	}
	if chosen >= 0 {
		n.preferred = offers[chosen]
	}
	return n
}

// specificity tells how closely the media range mt matches offer: 3 for
// the type itself, 2 for type/*, 1 for */*, 0 for no match.
func specificity(mt, offer string) int {
	switch {
	case mt == offer:
		return 3
	case mt == "*/*":
		return 1
	case strings.HasSuffix(mt, "/*") && strings.HasPrefix(offer, strings.TrimSuffix(mt, "*")):
		return 2
	}
	return 0
}
