package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// watchQuery is what an order-tracking screen holds open after placeOrder:
// the order's current status first, then every change.
const watchQuery = `subscription($id: ID!) { orderStatusChanged(orderId: $id) { status reason at order { createdAt } } }`

// awaitLive waits, as a live order-tracking screen does, for order id to
// be CONFIRMED: it subscribes to orderStatusChanged over Server-Sent Events
// through the gateway and reads updates until the order is CONFIRMED (or
// later), or REJECTED/CANCELLED (errNotConfirmed). It returns the saga's
// duration as the orders service recorded it: the CONFIRMED update's time
// less the order's creation time (both its clock).
func awaitLive(ctx context.Context, hc *http.Client, url, token, id string, timeout time.Duration) (time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel() // ends the subscription: it stays open after a final status
	body, err := json.Marshal(map[string]any{"query": watchQuery, "variables": map[string]any{"id": id}})
	if err != nil {
		return 0, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := hc.Do(req)
	if err != nil {
		return 0, fmt.Errorf("order %s: subscribe: %w", id, err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/event-stream") {
		var raw bytes.Buffer
		_, _ = raw.ReadFrom(res.Body)
		return 0, fmt.Errorf("order %s: subscribe: HTTP %d %s: %.200s", id, res.StatusCode, res.Header.Get("Content-Type"), raw.Bytes())
	}
	last, saga, confirmed := "no update", time.Duration(0), false
	err = readEvents(res, func(event string, data []byte) (bool, error) {
		if event == "complete" {
			return true, fmt.Errorf("order %s: the subscription ended while %s", id, last)
		}
		if event != "next" {
			return false, nil
		}
		var u struct {
			OrderStatusChanged *struct {
				Status string
				Reason *string
				At     time.Time
				Order  struct{ CreatedAt time.Time }
			}
		}
		raw, err := decodeResponse(http.StatusOK, data)
		if err == nil {
			err = json.Unmarshal(raw, &u)
		}
		if err != nil {
			return true, fmt.Errorf("order %s: update: %w", id, err)
		}
		c := u.OrderStatusChanged
		if c == nil {
			return true, fmt.Errorf("order %s: null update", id)
		}
		last = c.Status
		switch c.Status {
		case "CONFIRMED", "SHIPPED", "DELIVERED":
			if c.Status == "CONFIRMED" {
				saga = c.At.Sub(c.Order.CreatedAt)
			}
			confirmed = true
			return true, nil
		case "REJECTED", "CANCELLED", "REFUNDED":
			reason := ""
			if c.Reason != nil {
				reason = *c.Reason
			}
			return true, fmt.Errorf("%w: order %s is %s: %s", errNotConfirmed, id, c.Status, reason)
		}
		return false, nil
	})
	switch {
	case confirmed:
		return saga, nil
	case errors.Is(err, errNotConfirmed):
		return 0, err
	case ctx.Err() != nil:
		return 0, fmt.Errorf("order %s still %s after %s", id, last, timeout)
	case err != nil:
		return 0, err
	}
	return 0, fmt.Errorf("order %s: the stream ended while %s", id, last)
}

// readEvents calls fn with each Server-Sent Event of res (its event name,
// "message" if none, and its data lines joined) until fn says it is done,
// fn fails or the stream ends.
func readEvents(res *http.Response, fn func(event string, data []byte) (bool, error)) error {
	sc := bufio.NewScanner(res.Body)
	sc.Buffer(make([]byte, 0, 64<<10), 4<<20)
	event, data := "", []byte(nil)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			if event == "" && data == nil {
				continue
			}
			if event == "" {
				event = "message"
			}
			done, err := fn(event, data)
			if done || err != nil {
				return err
			}
			event, data = "", nil
		case strings.HasPrefix(line, ":"): // a comment: keep-alive
		case strings.HasPrefix(line, "event:"):
			event = strings.TrimSpace(strings.TrimPrefix(line, "event:"))
		case strings.HasPrefix(line, "data:"):
			if data != nil {
				data = append(data, '\n')
			}
			data = append(data, strings.TrimPrefix(strings.TrimPrefix(line, "data:"), " ")...)
		}
	}
	return sc.Err()
}
