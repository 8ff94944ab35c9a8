package repo

import "github.com/jobsharp/cassandra/internal/testhook"

func init() {
	testhook.SetAfterHints = func(store any, f func(op string) error) { store.(*Store).afterHints = f }
}
