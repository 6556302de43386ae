package notifytest

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
)

// SMSRequest is a request the SMS API received.
type SMSRequest struct {
	Method      string
	ContentType string
	// User and Password are the basic-auth credentials.
	User, Password string
	Form           url.Values
}

// SMSServer is a fake SMS API: it records every request and answers with
// Respond (201 and a message resource by default).
type SMSServer struct {
	URL string
	// Respond, if set, chooses the answer to request n (from 1): status code
	// and JSON body.
	Respond func(n int) (int, string)

	mu   sync.Mutex
	reqs []SMSRequest
}

// StartSMS starts a fake SMS API that stops when the test ends.
func StartSMS(t testing.TB, respond func(n int) (int, string)) *SMSServer {
	t.Helper()
	s := &SMSServer{Respond: respond}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		user, pass, _ := r.BasicAuth()
		s.mu.Lock()
		s.reqs = append(s.reqs, SMSRequest{Method: r.Method, ContentType: r.Header.Get("Content-Type"),
			User: user, Password: pass, Form: r.PostForm})
		n := len(s.reqs)
		s.mu.Unlock()
		code, body := http.StatusCreated, `{"sid":"SM00000000000000000000000000000001","status":"queued"}`
		if s.Respond != nil {
			code, body = s.Respond(n)
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		_, _ = w.Write([]byte(body))
	}))
	t.Cleanup(srv.Close)
	s.URL = srv.URL + "/2010-04-01/Accounts/AC123/Messages.json"
	return s
}

// Requests returns the requests received so far.
func (s *SMSServer) Requests() []SMSRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]SMSRequest(nil), s.reqs...)
}
