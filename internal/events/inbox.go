package events

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// PruneInbox deletes inbox records of messages handled before before, and
// returns how many it deleted. A duplicate can arrive as long as its stream
// entry can be redelivered (a relay retry, a claim after a crash), so keep
// the records well beyond that: days, not minutes.
func PruneInbox(ctx context.Context, pool *pgxpool.Pool, before time.Time) (int64, error) {
	tag, err := pool.Exec(ctx, `DELETE FROM events_inbox WHERE handled_at < $1`, before)
	if err != nil {
		return 0, fmt.Errorf("prune inbox: %w", err)
	}
	return tag.RowsAffected(), nil
}
