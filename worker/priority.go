package worker

import (
	"context"
	"slices"
	"strconv"
	"sync"
	"time"
)

// Priority orders the claims of queues that share the processor's slots
// ([Config.MaxWorkers]), by each queue's [QueueConfig.Weight].
type Priority int

const (
	// PriorityWeighted (the default) hands free slots to the queues that
	// have jobs due in proportion to their weights: with weights 3 and 1,
	// three jobs of the first for one of the second while both have work.
	// A queue with nothing due leaves its share to the others.
	PriorityWeighted Priority = iota
	// PriorityStrict hands free slots to the queue of the highest weight
	// that has jobs due: a queue claims only when every queue of a higher
	// weight found nothing due (queues of equal weight in name order). A
	// steady stream of high-priority jobs starves the others.
	PriorityStrict
)

func (p Priority) String() string {
	switch p {
	case PriorityWeighted:
		return "weighted"
	case PriorityStrict:
		return "strict"
	}
	return "Priority(" + strconv.Itoa(int(p)) + ")"
}

// dispatch is the claim loop of queues that share the processor's slots:
// it waits for a free shared slot and for a queue that may claim, then hands
// the free slots to the queues by priority and claims for them. Each queue
// keeps its own pacing (a queue that found nothing is asked again after the
// idle pause, as with slots of its own), so a claim costs what it costs with
// per-queue slots.
func (p *Processor) dispatch(ctx context.Context) {
	st := make([]pacing, len(p.queues))
	vt := make([]float64, len(p.queues)) // virtual time of weighted priority
	// Nothing is claimed before the paused queues are known.
	select {
	case <-ctx.Done():
		return
	case <-p.pausesKnown:
	}
	for {
		select {
		case <-ctx.Done():
			return
		case p.shared <- struct{}{}:
		}
		n := 1
		for {
			// Wake-ups (a recurring job fired, jobs rescued) end a queue's
			// idle pause.
			now := time.Now()
			for i, q := range p.queues {
				select {
				case <-q.wake:
					st[i].next, st[i].empty = now, 0
				default:
				}
			}
			first := -1 // the queue that may claim soonest
			for _, i := range p.byPriority {
				q := p.queues[i]
				if len(q.slots) == cap(q.slots) || q.paused.Load() {
					continue
				}
				if first < 0 || st[i].next.Before(st[first].next) {
					first = i
				}
				if p.set.priority == PriorityStrict && st[i].busy {
					break // the queues below wait for this one
				}
			}
			if first >= 0 {
				n = await(ctx, p.shared, p.wakeAll, n, time.Until(st[first].next), st[first].busy)
				break
			}
			// Every queue runs as many handlers as it may: wait for one to
			// end.
			select {
			case <-ctx.Done():
				for range n {
					<-p.shared
				}
				return
			case <-p.freed:
			}
		}
		if n == 0 {
			return
		}
		if p.set.priority == PriorityStrict {
			n = p.claimStrict(ctx, st, n)
		} else {
			n = p.claimWeighted(ctx, st, vt, n)
		}
		for range n {
			<-p.shared
		}
	}
}

// takeSlots takes up to n free slots (tokens of slots) without waiting.
func takeSlots(slots chan struct{}, n int) int {
	for k := range n {
		select {
		case slots <- struct{}{}:
		default:
			return k
		}
	}
	return n
}

// claimStrict claims for n shared slots from the queues in order of
// weight, and returns the shared slots it handed to none. A queue below
// another claims only when the one above found nothing due at its last
// claim, or runs as many handlers as it may: a queue that found fewer jobs
// than it asked for, or that waits out its cooldown after a claim that found
// work, ends the round (it may have more due than one claim saw).
func (p *Processor) claimStrict(ctx context.Context, st []pacing, n int) int {
	now := time.Now()
	for _, i := range p.byPriority {
		if n == 0 {
			break
		}
		q := p.queues[i]
		if q.paused.Load() {
			continue // a paused queue is skipped: the ones below may claim
		}
		if st[i].next.After(now) {
			if st[i].busy && len(q.slots) < cap(q.slots) {
				break // it found work: the queues below wait for it
			}
			continue
		}
		k := takeSlots(q.slots, n)
		if k == 0 {
			continue
		}
		n -= k
		got, err := p.claim(ctx, q, k, now)
		p.claimed(&st[i], now, got, err)
		if err != nil {
			p.log.Warn("jobsharp: claim failed; backing off", "queue", q.name, "err", err, "failures", st[i].failures)
		}
		if got > 0 && got < k {
			break
		}
	}
	return n
}

// claimWeighted shares n shared slots among the queues that may claim, in
// proportion to their weights, claims for every queue at once, and returns
// the shared slots it handed to none.
//
// The shares follow each queue's virtual time, vt: the jobs it claimed
// divided by its weight. Each slot goes to the queue whose virtual time
// would be least with it, so a queue whose claim took fewer jobs than its
// share (a claim may find fewer than are due) is ahead in the next round,
// and the proportion holds over rounds of any size. A queue that comes back
// from having nothing due starts level with the busy queues rather than
// with the lead it gathered while it was empty. The slots a round leaves
// unused go out in the next round, a ClaimCooldown later.
func (p *Processor) claimWeighted(ctx context.Context, st []pacing, vt []float64, n int) int {
	now := time.Now()
	share := make([]int, len(p.queues))
	room := make([]int, len(p.queues))
	waiting := make([]bool, len(p.queues))
	for i, q := range p.queues {
		if q.paused.Load() {
			continue
		}
		switch {
		case !st[i].next.After(now):
			if !st[i].busy {
				vt[i] = max(vt[i], p.busyFloor(st, vt, i))
			}
		case st[i].busy:
			// Busy, waiting out its cooldown: its share is kept for it (the
			// slots go out when the cooldown ends), or a queue whose
			// cooldown ended first would take them all and the proportion
			// would follow the queues' timing, not their weights.
			waiting[i] = true
		default:
			continue
		}
		room[i] = cap(q.slots) - len(q.slots)
	}
	for ; n > 0; n-- {
		best, bestVT := -1, 0.0
		for i, q := range p.queues {
			if share[i] >= room[i] {
				continue
			}
			if v := vt[i] + float64(share[i]+1)/float64(q.weight); best < 0 || v < bestVT {
				best, bestVT = i, v
			}
		}
		if best < 0 {
			break
		}
		share[best]++
	}
	var wg sync.WaitGroup
	for i, q := range p.queues {
		if waiting[i] {
			n += share[i]
			continue
		}
		k := takeSlots(q.slots, share[i])
		n += share[i] - k
		if k == 0 {
			continue
		}
		wg.Go(func() {
			got, err := p.claim(ctx, q, k, now)
			p.claimed(&st[i], now, got, err)
			vt[i] += float64(got) / float64(q.weight)
			if err != nil {
				p.log.Warn("jobsharp: claim failed; backing off", "queue", q.name, "err", err, "failures", st[i].failures)
			}
		})
	}
	wg.Wait()
	return n
}

// busyFloor is the least virtual time of the queues other than i whose
// last claim found work, or vt[i] when there are none.
func (p *Processor) busyFloor(st []pacing, vt []float64, i int) float64 {
	floor := vt[i]
	found := false
	for j := range p.queues {
		if j != i && st[j].busy && (!found || vt[j] < floor) {
			floor, found = vt[j], true
		}
	}
	return floor
}

// priorityOrder is the order of strict priority: weight, highest first,
// then name.
func priorityOrder(queues []*queue) []int {
	order := make([]int, len(queues))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return queues[b].weight - queues[a].weight })
	return order
}
