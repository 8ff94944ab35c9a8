// Package cli is the jobsharp command line: [Run] parses the arguments,
// runs one command and returns the exit code, so tests drive it like a
// shell does. It keeps no global state.
//
// Commands are rows of a table (name, synopsis, flags, run function); each
// gets --help, and commands that talk to Cassandra share the connection
// flags, each of which also reads a JOBSHARP_* environment variable (a flag
// on the command line wins). There is deliberately no --password flag: a
// password on the command line shows in ps and shell history. Use
// --password-file or JOBSHARP_PASSWORD.
//
// # Exit codes
//
//	0  success
//	1  failure (Cassandra unreachable, authentication, a statement failed, …)
//	2  usage: unknown command, bad flag or environment value, missing argument
//	3  schema verify found differences
//	4  get, requeue or cancel: no such job; queue pause or resume: no such
//	   queue; recurring pause, resume, trigger or remove: no such schedule
//	5  cancel or requeue: the job's state does not allow it
package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"slices"
	"strings"

	"github.com/jobsharp/cassandra/repo"
)

// Exit codes of Run.
const (
	ExitOK      = 0
	ExitFailure = 1
	ExitUsage   = 2
	ExitDiffers = 3
	// ExitNotFound: get, requeue or cancel named a job that does not exist;
	// queue pause or resume a queue, or a recurring command a schedule.
	ExitNotFound = 4
	// ExitWrongState: the job's state does not allow the command (cancel a
	// finished job, requeue a running one).
	ExitWrongState = 5
)

// Run runs the command named by args (without the program name) and returns
// its exit code. Output goes to stdout, errors and diagnostics to stderr.
// Environment variables are read with os.Getenv.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return run(ctx, args, &app{stdout: stdout, stderr: stderr, getenv: os.Getenv})
}

// app is one invocation's surroundings.
type app struct {
	stdout, stderr io.Writer
	getenv         func(string) string
}

// command is one row of the command table.
type command struct {
	// name is the words that select it: "schema apply".
	name string
	// synopsis follows the name in usage lines.
	synopsis string
	// summary is one line for the command list.
	summary string
	// help is the rest of --help, before the flags.
	help string
	// args is set for commands that take positional arguments.
	args bool
	// setup registers the command's flags and returns what runs it once
	// they are parsed.
	setup func(fs *flagSet, a *app) func(ctx context.Context) error
}

// commands is the command table. Keep it sorted by name.
func commands() []command {
	return []command{
		cancelCommand(),
		dashboardCommand(),
		enqueueCommand(),
		getCommand(),
		listCommand(),
		processorsCommand(),
		purgeCommand(),
		queueListCommand(),
		queuePauseCommand(),
		queueResumeCommand(),
		recurringListCommand(),
		recurringPauseCommand(),
		recurringRemoveCommand(),
		recurringResumeCommand(),
		recurringTriggerCommand(),
		requeueCommand(),
		schemaApplyCommand(),
		schemaPrintCommand(),
		schemaVerifyCommand(),
		statsCommand(),
		versionCommand(),
	}
}

const exitCodesHelp = `Exit codes: 0 success, 1 failure, 2 usage error, 3 schema verify found differences, 4 no such job, queue or schedule, 5 the job's state does not allow it.`

func run(ctx context.Context, args []string, a *app) int {
	cmds := commands()
	if len(args) == 0 {
		a.usage(a.stderr, cmds)
		return ExitUsage
	}
	switch args[0] {
	case "help", "-h", "-help", "--help":
		if len(args) > 1 {
			if c, _, ok := lookup(cmds, args[1:]); ok {
				fs := newFlagSet(c, a)
				c.setup(fs, a)
				a.commandHelp(a.stdout, c, fs)
				return ExitOK
			}
			return a.unknown(cmds, args[1:])
		}
		a.usage(a.stdout, cmds)
		return ExitOK
	}
	c, rest, ok := lookup(cmds, args)
	if !ok {
		return a.unknown(cmds, args)
	}
	if i := slices.IndexFunc(rest, isPasswordFlag); i >= 0 {
		fmt.Fprintf(a.stderr, "jobsharp %s: there is no --password flag: a password on the command line shows in ps and in shell history; use --password-file FILE or the JOBSHARP_PASSWORD environment variable\n", c.name)
		return ExitUsage
	}
	fs := newFlagSet(c, a)
	exec := c.setup(fs, a)
	if err := fs.parse(rest); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			a.commandHelp(a.stdout, c, fs)
			return ExitOK
		}
		fmt.Fprintf(a.stderr, "jobsharp %s: %v\nrun 'jobsharp %s --help' for usage\n", c.name, err, c.name)
		return ExitUsage
	}
	if len(fs.positional) > 0 && !c.args {
		fmt.Fprintf(a.stderr, "jobsharp %s: unexpected argument %q\nrun 'jobsharp %s --help' for usage\n", c.name, fs.positional[0], c.name)
		return ExitUsage
	}
	err := exec(ctx)
	var d *differsError
	switch {
	case err == nil:
		return ExitOK
	case errors.As(err, &d):
		return ExitDiffers
	case isUsage(err):
		fmt.Fprintf(a.stderr, "jobsharp %s: %v\n", c.name, err)
		return ExitUsage
	case errors.Is(err, repo.ErrNotFound), errors.Is(err, repo.ErrQueueNotFound):
		fmt.Fprintf(a.stderr, "jobsharp %s: %v\n", c.name, err)
		return ExitNotFound
	case errors.Is(err, repo.ErrWrongState):
		fmt.Fprintf(a.stderr, "jobsharp %s: %v\n", c.name, err)
		return ExitWrongState
	}
	fmt.Fprintf(a.stderr, "jobsharp %s: %v\n", c.name, err)
	if h := hint(err); h != "" {
		fmt.Fprintf(a.stderr, "hint: %s\n", h)
	}
	return ExitFailure
}

// lookup finds the command whose name is the longest prefix of args.
func lookup(cmds []command, args []string) (command, []string, bool) {
	var best command
	n := 0
	for _, c := range cmds {
		words := strings.Fields(c.name)
		if len(words) > n && len(args) >= len(words) && slices.Equal(words, args[:len(words)]) {
			best, n = c, len(words)
		}
	}
	return best, args[n:], n > 0
}

func (a *app) unknown(cmds []command, args []string) int {
	// "jobsharp schema" alone, or a typo after it: list that group.
	var group []command
	for _, c := range cmds {
		if strings.HasPrefix(c.name, args[0]+" ") {
			group = append(group, c)
		}
	}
	if len(group) > 0 {
		if len(args) > 1 {
			fmt.Fprintf(a.stderr, "jobsharp: unknown command %q\n", strings.Join(args, " "))
		}
		a.list(a.stderr, group)
		return ExitUsage
	}
	fmt.Fprintf(a.stderr, "jobsharp: unknown command %q\n", args[0])
	a.usage(a.stderr, cmds)
	return ExitUsage
}

func (a *app) usage(w io.Writer, cmds []command) {
	fmt.Fprint(w, "jobsharp sets up and inspects the jobsharp job store on Cassandra or ScyllaDB.\n\nusage: jobsharp <command> [flags]\n\n")
	a.list(w, cmds)
	fmt.Fprintf(w, "\nRun 'jobsharp <command> --help' for a command's flags. Connection flags also\nread JOBSHARP_HOSTS, JOBSHARP_PORT, JOBSHARP_KEYSPACE, … (see a command's help).\n%s\n", exitCodesHelp)
}

func (a *app) list(w io.Writer, cmds []command) {
	fmt.Fprintln(w, "commands:")
	for _, c := range cmds {
		fmt.Fprintf(w, "  %-18s %s\n", c.name, c.summary)
	}
}

func (a *app) commandHelp(w io.Writer, c command, fs *flagSet) {
	fmt.Fprintf(w, "usage: jobsharp %s %s\n\n%s\n\nflags:\n", c.name, c.synopsis, strings.TrimSpace(c.help))
	fs.SetOutput(w)
	fs.PrintDefaults()
	fmt.Fprintf(w, "\n%s\n", exitCodesHelp)
}

func isPasswordFlag(arg string) bool {
	name, _, _ := strings.Cut(strings.TrimLeft(arg, "-"), "=")
	return strings.HasPrefix(arg, "-") && name == "password"
}

// usageError is a problem with the arguments: exit code 2.
type usageError struct{ err error }

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

func usagef(format string, args ...any) error {
	return &usageError{fmt.Errorf(format, args...)}
}

// differsError makes Run exit with ExitDiffers; the command has printed the
// differences.
type differsError struct{}

func (*differsError) Error() string { return "the schema differs" }

// writeJSON writes v as indented JSON.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func versionCommand() command {
	return command{
		name:    "version",
		summary: "print the version of jobsharp",
		help:    "Prints the module version this binary was built from.",
		setup: func(fs *flagSet, a *app) func(context.Context) error {
			return func(context.Context) error {
				v := "(unknown)"
				if bi, ok := debug.ReadBuildInfo(); ok {
					v = bi.Main.Version
				}
				_, err := fmt.Fprintf(a.stdout, "jobsharp %s\n", v)
				return err
			}
		},
	}
}
