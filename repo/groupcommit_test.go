package repo

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

type gcTestItem struct {
	n        int
	attempts int
	result   int
}

func TestGroupCommitCoalescesWhileABatchIsInFlight(t *testing.T) {
	t.Parallel()

	var (
		mu       sync.Mutex
		batches  [][]int
		inFlight atomic.Int32
		release  = make(chan struct{})
	)
	g := &groupCommit[string, gcTestItem]{
		limit: func(items []*gcTestItem) int { return 100 },
		exec: func(ctx context.Context, key string, items []*gcTestItem) []*gcTestItem {
			if inFlight.Add(1) != 1 {
				t.Errorf("two batches of partition %s in flight at once", key)
			}
			defer inFlight.Add(-1)
			var ns []int
			for _, it := range items {
				ns = append(ns, it.n)
				it.result = it.n * 10
			}
			mu.Lock()
			batches = append(batches, ns)
			first := len(batches) == 1
			mu.Unlock()
			if first {
				<-release // hold the first batch until the others queued
			}
			return nil
		},
	}
	ctx := context.Background()
	first := &gcTestItem{n: 0}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); _ = g.do(ctx, "p", first) }()
	// Wait until the first batch is in flight, then queue 20 more callers.
	for inFlight.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	items := make([]*gcTestItem, 20)
	for i := range items {
		items[i] = &gcTestItem{n: i + 1}
		wg.Add(1)
		go func() { defer wg.Done(); _ = g.do(ctx, "p", items[i]) }()
	}
	for {
		g.mu.Lock()
		n := len(g.parts["p"].pending)
		g.mu.Unlock()
		if n == 20 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	close(release)
	wg.Wait()
	if len(batches) != 2 || len(batches[0]) != 1 || len(batches[1]) != 20 {
		t.Fatalf("batches = %v, want one of 1 item then one of 20", batches)
	}
	for _, it := range append(items, first) {
		if it.result != it.n*10 {
			t.Errorf("item %d result = %d, want %d", it.n, it.result, it.n*10)
		}
	}
	if len(g.parts) != 0 {
		t.Errorf("partition state left behind: %v", g.parts)
	}
}

func TestGroupCommitRetriesUnsettledItemsAndRespectsLimit(t *testing.T) {
	t.Parallel()

	var sizes []int
	g := &groupCommit[int, gcTestItem]{
		limit: func(items []*gcTestItem) int { return 3 },
		exec: func(ctx context.Context, key int, items []*gcTestItem) []*gcTestItem {
			sizes = append(sizes, len(items))
			var retry []*gcTestItem
			for _, it := range items {
				it.attempts++
				if it.n%2 == 1 && it.attempts == 1 {
					retry = append(retry, it) // odd items settle on their second try
					continue
				}
				it.result = it.attempts
			}
			return retry
		},
	}
	items := make([]*gcTestItem, 7)
	for i := range items {
		items[i] = &gcTestItem{n: i}
	}
	if err := g.do(context.Background(), 1, items...); err != nil {
		t.Fatal(err)
	}
	for _, it := range items {
		want := 1
		if it.n%2 == 1 {
			want = 2
		}
		if it.result != want {
			t.Errorf("item %d settled after %d attempts, want %d", it.n, it.result, want)
		}
	}
	for _, n := range sizes {
		if n > 3 {
			t.Errorf("a batch of %d items, limit 3", n)
		}
	}
}

func TestGroupCommitWithdrawsItemsOfACallerThatGivesUp(t *testing.T) {
	t.Parallel()

	release := make(chan struct{})
	var sent []int
	var mu sync.Mutex
	g := &groupCommit[int, gcTestItem]{
		limit: func(items []*gcTestItem) int { return 10 },
		exec: func(ctx context.Context, key int, items []*gcTestItem) []*gcTestItem {
			mu.Lock()
			for _, it := range items {
				sent = append(sent, it.n)
			}
			mu.Unlock()
			if items[0].n == 0 {
				<-release
			}
			return nil
		},
	}
	done := make(chan struct{})
	go func() { _ = g.do(context.Background(), 1, &gcTestItem{n: 0}); close(done) }()
	for {
		mu.Lock()
		n := len(sent)
		mu.Unlock()
		if n == 1 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := g.do(ctx, 1, &gcTestItem{n: 1}); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("do() error = %v, want DeadlineExceeded", err)
	}
	close(release)
	<-done
	if err := g.do(context.Background(), 1, &gcTestItem{n: 2}); err != nil {
		t.Fatal(err)
	}
	if want := []int{0, 2}; len(sent) != 2 || sent[0] != 0 || sent[1] != 2 {
		t.Errorf("sent %v, want %v: a withdrawn item was sent", sent, want)
	}
}
