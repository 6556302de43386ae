package shipment

import (
	"testing"
	"time"

	"github.com/shopgraph/shopgraph/internal/apperr"
	"github.com/shopgraph/shopgraph/internal/contract"
)

func labelled(status Status) *Shipment {
	return &Shipment{
		ID: "s1", OrderID: "o1", CustomerID: "c1", Method: "STANDARD", Carrier: "sandbox", TrackingNumber: "SBX1",
		Status: status, Address: Address{Recipient: "Ada", City: "Lyon", Country: "FR"},
	}
}

func TestStep(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 11, 21, 9, 30, 0, 0, time.UTC)
	for _, tc := range []struct {
		from     Status
		to       Status
		notice   string // type of the one notice, "" for none
		location string
		code     string
	}{
		{StatusLabelCreated, StatusInTransit, contract.TypeShipmentShipped, "", ""},
		{StatusInTransit, StatusOutForDelivery, "", "Lyon, FR", ""},
		{StatusOutForDelivery, StatusDelivered, contract.TypeShipmentDelivered, "Lyon, FR", ""},
		{StatusPending, StatusPending, "", "", apperr.Conflict},
		{StatusDelivered, StatusDelivered, "", "", apperr.Conflict},
		{StatusCancelled, StatusCancelled, "", "", apperr.Conflict},
	} {
		t.Run(string(tc.from), func(t *testing.T) {
			t.Parallel()
			s := labelled(tc.from)
			ns, err := s.Step(at)
			if apperr.Code(err) != tc.code {
				t.Fatalf("err = %v, want code %q", err, tc.code)
			}
			if s.Status != tc.to {
				t.Errorf("status = %s, want %s", s.Status, tc.to)
			}
			if tc.code != "" {
				if len(s.Events) != 0 || len(ns) != 0 || !s.UpdatedAt.IsZero() {
					t.Errorf("a refused step changed the shipment: %+v, notices %v", s, ns)
				}
				return
			}
			if len(s.Events) != 1 || s.Events[0].Status != tc.to || s.Events[0].Location != tc.location || !s.Events[0].At.Equal(at) || !s.UpdatedAt.Equal(at) {
				t.Errorf("events = %+v, updated %s", s.Events, s.UpdatedAt)
			}
			switch {
			case tc.notice == "" && len(ns) != 0:
				t.Errorf("notices = %+v, want none", ns)
			case tc.notice != "" && (len(ns) != 1 || ns[0].Type != tc.notice):
				t.Errorf("notices = %+v, want one %s", ns, tc.notice)
			case tc.notice != "":
				want := contract.ShipmentResult{OrderID: "o1", CustomerID: "c1", ShipmentID: "s1", TrackingNumber: "SBX1", Carrier: "sandbox"}
				if ns[0].Result != want {
					t.Errorf("result = %+v, want %+v", ns[0].Result, want)
				}
			}
		})
	}
}

func TestCancel(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 11, 21, 9, 30, 0, 0, time.UTC)
	for _, tc := range []struct {
		from Status
		code string
	}{
		{StatusPending, ""},
		{StatusLabelCreated, ""},
		{StatusInTransit, apperr.Conflict},
		{StatusOutForDelivery, apperr.Conflict},
		{StatusDelivered, apperr.Conflict},
		{StatusCancelled, apperr.Conflict},
	} {
		t.Run(string(tc.from), func(t *testing.T) {
			t.Parallel()
			s := labelled(tc.from)
			n, err := s.Cancel("lost", at)
			if apperr.Code(err) != tc.code {
				t.Fatalf("err = %v, want code %q", err, tc.code)
			}
			if tc.code != "" {
				if s.Status != tc.from || len(s.Events) != 0 || s.CancelReason != "" {
					t.Errorf("a refused cancel changed the shipment: %+v", s)
				}
				return
			}
			if s.Status != StatusCancelled || s.CancelReason != "lost" || len(s.Events) != 1 || s.Events[0].Description != "Cancelled: lost" {
				t.Errorf("shipment = %+v", s)
			}
			if n.Type != contract.TypeShipmentCancelled || n.Result.Reason != "lost" || n.Result.CustomerID != "c1" {
				t.Errorf("notice = %+v", n)
			}
		})
	}
}

func TestStateNotice(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		status Status
		want   string
	}{
		{StatusPending, contract.TypeShipmentCreated},
		{StatusLabelCreated, contract.TypeShipmentCreated},
		{StatusInTransit, contract.TypeShipmentShipped},
		{StatusOutForDelivery, contract.TypeShipmentShipped},
		{StatusDelivered, contract.TypeShipmentDelivered},
		{StatusCancelled, contract.TypeShipmentCancelled},
	} {
		t.Run(string(tc.status), func(t *testing.T) {
			t.Parallel()
			s := labelled(tc.status)
			s.CancelReason = "lost"
			n := s.StateNotice("")
			if n.Type != tc.want {
				t.Errorf("type = %s, want %s", n.Type, tc.want)
			}
			if (tc.status == StatusCancelled) != (n.Result.Reason == "lost") {
				t.Errorf("reason = %q", n.Result.Reason)
			}
		})
	}
}
