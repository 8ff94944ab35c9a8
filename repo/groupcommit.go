package repo

import (
	"context"
	"sync"
	"time"
)

// groupCommit coalesces the writes this store makes to one home partition:
// at most one conditional batch per partition is in flight, and the changes
// that arrive while it is (from any goroutine: handlers completing, a claim,
// heartbeats, inserts) go out together as the next batch. One Paxos round
// then serves many jobs, and nothing waits on a timer: a lone change goes
// out at once.
//
// The goroutine that finds a partition idle leads: it sends batches until
// its own changes are resolved, then hands the lead to the oldest waiting
// request, so no caller waits longer than the batches ahead of its own.
type groupCommit[K comparable, T any] struct {
	// exec sends one batch of a partition's pending items and returns those
	// it did not settle, which go first in the next batch. Every other item
	// is resolved: its caller may read its result.
	exec func(ctx context.Context, key K, items []*T) (retry []*T)
	// limit returns how many of the pending items (a prefix) the next batch
	// takes: at least one.
	limit func(items []*T) int
	// linger, when set, is how long a goroutine that starts to lead waits
	// before it sends the first batch, so that items arriving at about the
	// same moment go out together rather than the first alone and the
	// rest next (the settling of jobs whose handlers finish one by one).
	linger time.Duration

	mu    sync.Mutex
	parts map[K]*gcPart[T]
}

type gcPart[T any] struct {
	pending []*gcItem[T] // oldest first
	leading bool
}

// gcItem is one item and the request it belongs to.
type gcItem[T any] struct {
	v   *T
	req *gcRequest
}

// gcRequest is one call of do: its items, how many are unresolved, and the
// channels its caller waits on.
type gcRequest struct {
	open    int           // items not resolved yet
	done    chan struct{} // closed when open reaches 0
	lead    chan struct{} // receives when the caller is to lead
	waiting bool          // the caller still waits (false after it gave up)
}

// do sends items (all of partition key) and waits until each is resolved
// (resolve was called for it) or ctx ends. On ctx's end, items not sent yet
// are withdrawn and ctx's error returned; items in flight stay in flight,
// and their results are lost to the caller as with any request cut short.
func (g *groupCommit[K, T]) do(ctx context.Context, key K, items ...*T) error {
	if len(items) == 0 {
		return nil
	}
	req := &gcRequest{open: len(items), done: make(chan struct{}), lead: make(chan struct{}, 1), waiting: true}
	g.mu.Lock()
	if g.parts == nil {
		g.parts = make(map[K]*gcPart[T])
	}
	p := g.parts[key]
	if p == nil {
		p = &gcPart[T]{}
		g.parts[key] = p
	}
	for _, v := range items {
		p.pending = append(p.pending, &gcItem[T]{v: v, req: req})
	}
	lead := !p.leading
	if lead {
		p.leading = true
	}
	g.mu.Unlock()

	for {
		if lead {
			g.leadUntil(ctx, key, p, req)
			return nil
		}
		select {
		case <-req.done:
			return nil
		case <-req.lead:
			lead = true
		case <-ctx.Done():
			if g.withdraw(key, p, req) {
				return ctx.Err()
			}
			// The lead was handed to this request as it gave up: take it,
			// so the partition does not stall, and hand it on at once.
			lead = true
		}
	}
}

// busy reports whether a batch of partition key is in flight.
func (g *groupCommit[K, T]) busy(key K) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	p := g.parts[key]
	return p != nil && p.leading
}

// leadUntil sends batches of the partition until req is resolved, then
// hands the lead on.
func (g *groupCommit[K, T]) leadUntil(ctx context.Context, key K, p *gcPart[T], req *gcRequest) {
	// Batches outlive the caller's context: a batch cut in half would leave
	// other callers' changes with an unknown outcome.
	bctx := context.WithoutCancel(ctx)
	if g.linger > 0 {
		time.Sleep(g.linger)
	}
	for {
		g.mu.Lock()
		select {
		case <-req.done:
			g.handOff(key, p)
			g.mu.Unlock()
			return
		default:
		}
		if len(p.pending) == 0 {
			// Nothing pending yet req is open: its items are being resolved
			// by nobody. Cannot happen; release the lead defensively.
			g.handOff(key, p)
			g.mu.Unlock()
			return
		}
		vals := make([]*T, len(p.pending))
		for i, it := range p.pending {
			vals[i] = it.v
		}
		n := max(1, min(g.limit(vals), len(vals)))
		batch := p.pending[:n:n]
		p.pending = p.pending[n:]
		g.mu.Unlock()

		vals = vals[:n]
		left := g.exec(bctx, key, vals)
		retry := make(map[*T]bool, len(left))
		for _, v := range left {
			retry[v] = true
		}
		g.mu.Lock()
		var back []*gcItem[T]
		for _, it := range batch {
			if retry[it.v] {
				back = append(back, it) // first in the next batch, in order
				continue
			}
			it.req.open--
			if it.req.open == 0 {
				close(it.req.done)
			}
		}
		if len(back) > 0 {
			p.pending = append(back, p.pending...)
		}
		g.mu.Unlock()
	}
}

// handOff passes the lead to the oldest request still waiting, or marks the
// partition idle. Called with g.mu held.
func (g *groupCommit[K, T]) handOff(key K, p *gcPart[T]) {
	for _, it := range p.pending {
		if it.req.waiting {
			select {
			case it.req.lead <- struct{}{}:
			default:
			}
			return
		}
	}
	p.pending = nil
	p.leading = false
	delete(g.parts, key)
}

// withdraw removes the items of req that were not sent yet, when its caller
// gives up. It returns false if the lead was handed to req meanwhile (the
// caller must then lead).
func (g *groupCommit[K, T]) withdraw(key K, p *gcPart[T], req *gcRequest) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	select {
	case <-req.lead:
		return false
	default:
	}
	req.waiting = false
	kept := p.pending[:0]
	for _, it := range p.pending {
		if it.req != req {
			kept = append(kept, it)
		}
	}
	p.pending = kept
	return true
}
