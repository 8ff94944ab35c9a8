// Package misuse holds the compile-fail suite of the job store's API: each
// case is a snippet that misuses the generated queries and models or the
// worker (a column of another table, a bind of the wrong type, a handler
// for other arguments, …), compiled in a temporary module that requires
// this one, and the test requires the compiler to reject it with the
// expected message. The README's "What the compiler checks" lists them.
package misuse
