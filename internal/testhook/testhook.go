// Package testhook lets the tests of other packages of this module stop a
// store at a precise point of its work, as a crash or a network fault would
// there. Library code never calls it; repo installs the setters when it is
// loaded.
package testhook

// SetAfterHints, installed by repo, makes every change of store (a
// *repo.Store) call f between writing its hints and sending its lightweight
// transaction, with the change's name ("insert", "claim", "complete",
// "fail", "cancel", …). An error from f stops the change there. Set it
// before the store is used; nil removes it.
var SetAfterHints func(store any, f func(op string) error)
