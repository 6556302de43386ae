package events

import (
	"context"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// Recovery written by hand, since Watermill's subscriber does neither:
//
//   - A consumer group that vanished (Redis restarted empty, the stream
//     deleted) is created again, at the start of the stream, the moment a
//     command on it answers NOGROUP; Watermill would log "read fail" every
//     500ms forever. The relay needs nothing: XADD creates its stream.
//   - A message is claimed from another consumer only once that consumer's
//     heartbeat key has expired, so a crashed consumer's messages are taken
//     over after about ClaimIdle while a slow but live one keeps its own.

// aliveKey is the Redis key that says consumer name of this consumer's
// group is alive.
func (c *Consumer) aliveKey(name string) string {
	return c.opts.Prefix + "events:alive:" + c.opts.Stream + ":" + c.opts.Group + ":" + name
}

// beat sets this consumer's heartbeat key, expiring after ClaimIdle.
func (c *Consumer) beat(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, min(c.opts.ClaimIdle/3, time.Second))
	defer cancel()
	return c.rdb.Set(ctx, c.aliveKey(c.opts.Name), time.Now().UnixMilli(), c.opts.ClaimIdle).Err()
}

// heartbeat refreshes the heartbeat key every ClaimIdle/3 until ctx is done,
// then deletes it.
func (c *Consumer) heartbeat(ctx context.Context, done chan<- struct{}) {
	defer close(done)
	tick := time.NewTicker(c.opts.ClaimIdle / 3)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
			_ = c.rdb.Del(dctx, c.aliveKey(c.opts.Name)).Err()
			cancel()
			return
		case <-tick.C:
			if err := c.beat(ctx); err != nil && ctx.Err() == nil {
				c.log.Debug("consumer heartbeat", "error", err)
			}
		}
	}
}

// ownerGone decides whether a message idle for ClaimIdle may be claimed:
// only if it belongs to another consumer whose heartbeat has expired.
func (c *Consumer) ownerGone(p redis.XPendingExt) bool {
	if p.Consumer == c.opts.Name {
		return false // ours: being handled, or next in line
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	n, err := c.rdb.Exists(ctx, c.aliveKey(p.Consumer)).Result()
	return err == nil && n == 0
}

// isNoGroup reports Redis's answer for a missing stream or consumer group.
func isNoGroup(err error) bool {
	return err != nil && strings.HasPrefix(err.Error(), "NOGROUP")
}

// recreateGroup creates the consumer group (and its stream) again after
// Redis answered NOGROUP, reading from the start of the stream so that
// nothing published since is skipped.
func (c *Consumer) recreateGroup(ctx context.Context) {
	err := c.rdb.XGroupCreateMkStream(ctx, c.opts.Prefix+c.opts.Stream, c.opts.Group, "0").Err()
	if err != nil && !strings.HasPrefix(err.Error(), "BUSYGROUP") {
		c.log.Warn("could not recreate the missing consumer group", "error", err)
		return
	}
	if err == nil {
		c.log.Warn("consumer group was missing (Redis restarted empty?); created it again")
	}
	if err := c.beat(ctx); err != nil {
		c.log.Debug("consumer heartbeat", "error", err)
	}
}

// groupClient lends the consumer's Redis client to Watermill (whose
// subscriber and publisher close their client when they close), and
// recreates the consumer group when a group command answers NOGROUP, then
// retries the command once.
type groupClient struct {
	*redis.Client
	c *Consumer

	mu  sync.Mutex
	buf []redis.XMessage // read by XReadGroup, not yet handed to the subscriber
}

func (g *groupClient) Close() error { return nil }

// XReadGroup reads new messages ReadCount at a time and hands them to the
// subscriber one per call, which is all it takes from a read (Watermill's
// subscriber asks for one message per XREADGROUP and handles only the first
// of an answer). Only its own reader goroutine calls it for a stream.
func (g *groupClient) XReadGroup(ctx context.Context, a *redis.XReadGroupArgs) *redis.XStreamSliceCmd {
	batch := g.c.opts.ReadCount > 1 && len(a.Streams) == 2 && a.Streams[1] == ">"
	if batch {
		g.mu.Lock()
		if len(g.buf) > 0 {
			m := g.buf[0]
			g.buf = g.buf[1:]
			g.mu.Unlock()
			cmd := redis.NewXStreamSliceCmd(ctx)
			cmd.SetVal([]redis.XStream{{Stream: a.Streams[0], Messages: []redis.XMessage{m}}})
			return cmd
		}
		g.mu.Unlock()
		args := *a
		args.Count = int64(g.c.opts.ReadCount)
		a = &args
	}
	cmd := g.Client.XReadGroup(ctx, a)
	if isNoGroup(cmd.Err()) {
		g.c.recreateGroup(ctx)
		cmd = g.Client.XReadGroup(ctx, a)
	}
	if batch && cmd.Err() == nil {
		xss := cmd.Val()
		if len(xss) == 1 && len(xss[0].Messages) > 1 {
			g.mu.Lock()
			g.buf = append(g.buf, xss[0].Messages[1:]...)
			g.mu.Unlock()
			cmd.SetVal([]redis.XStream{{Stream: xss[0].Stream, Messages: xss[0].Messages[:1]}})
		}
	}
	return cmd
}

func (g *groupClient) XPendingExt(ctx context.Context, a *redis.XPendingExtArgs) *redis.XPendingExtCmd {
	cmd := g.Client.XPendingExt(ctx, a)
	if isNoGroup(cmd.Err()) {
		g.c.recreateGroup(ctx)
		cmd = g.Client.XPendingExt(ctx, a)
	}
	return cmd
}

func (g *groupClient) XAck(ctx context.Context, stream, group string, ids ...string) *redis.IntCmd {
	cmd := g.Client.XAck(ctx, stream, group, ids...)
	if isNoGroup(cmd.Err()) {
		// The group was lost with the message's delivery: there is nothing
		// left to acknowledge. Recreate the group and report success, so
		// that Watermill does not retry the ack forever.
		g.c.recreateGroup(ctx)
		cmd = redis.NewIntCmd(ctx)
		cmd.SetVal(0)
	}
	return cmd
}
