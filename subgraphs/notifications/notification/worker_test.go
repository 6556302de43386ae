package notification

import (
	"testing"
	"time"
)

func TestRetryDelayDoublesUpToTheCap(t *testing.T) {
	t.Parallel()
	w := NewWorker(WorkerConfig{RetryBase: 30 * time.Second, MaxRetryDelay: 5 * time.Minute})
	tests := []struct {
		attempt int
		want    time.Duration
	}{
		{1, 30 * time.Second},
		{2, time.Minute},
		{3, 2 * time.Minute},
		{4, 4 * time.Minute},
		{5, 5 * time.Minute},
		{40, 5 * time.Minute},
	}
	for _, tt := range tests {
		if got := w.delay(tt.attempt); got != tt.want {
			t.Errorf("delay after attempt %d = %v, want %v", tt.attempt, got, tt.want)
		}
	}
}
