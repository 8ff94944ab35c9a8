package repo

// SetAfterHints makes every change of s stop after writing its hints and
// before its lightweight transaction when f returns an error: a crash at the
// worst moment, for tests.
func SetAfterHints(s *Store, f func(op string) error) { s.afterHints = f }
