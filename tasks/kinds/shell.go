package kinds

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"taskrunner/tasks"
)

// defaultInterpreters maps each language but binary to the program that
// runs its scripts. python is python3: python 2 is gone from current
// systems, and a bare "python" is often missing.
var defaultInterpreters = map[string]string{
	"sh": "sh", "bash": "bash", "python": "python3", "python3": "python3", "perl": "perl",
}

// Languages returns the shell kind's languages, sorted.
func Languages() []string {
	langs := []string{"binary"}
	for l := range defaultInterpreters {
		langs = append(langs, l)
	}
	slices.Sort(langs)
	return langs
}

// ShellArgs are a shell row's args: an array of strings, numbers or
// booleans, passed to the program as they are written ('"a",1' gives
// the words a and 1).
type ShellArgs []string

// UnmarshalJSON takes an array of scalars; null gives none.
func (a *ShellArgs) UnmarshalJSON(b []byte) error {
	var items []json.RawMessage
	if err := json.Unmarshal(b, &items); err != nil {
		return fmt.Errorf("want an array of strings, numbers or booleans, got %s", b)
	}
	out := make([]string, 0, len(items))
	for i, item := range items {
		var s string
		switch {
		case string(item) == "null":
			return fmt.Errorf("value %d: want a string, number or boolean, got null", i+1)
		case json.Unmarshal(item, &s) == nil:
		case len(item) > 0 && (item[0] == '-' || item[0] >= '0' && item[0] <= '9'),
			string(item) == "true", string(item) == "false":
			s = string(item)
		default:
			return fmt.Errorf("value %d: want a string, number or boolean, got %s", i+1, item)
		}
		out = append(out, s)
	}
	*a = out
	return nil
}

// shellOptions are the keys of extra the shell kind reads.
type shellOptions struct {
	// Language is binary (default), sh, bash, python, python3 or perl.
	Language string
	// Executable is the script (or program), then words passed before
	// args: "report.sh --daily". Split on white space, nothing more.
	Executable string
	// Collected says Executable is in the collect directory (default).
	// false runs a program outside it, when config allows.
	Collected bool
}

func parseShellOptions(extra json.RawMessage) (shellOptions, error) {
	o := shellOptions{Language: "binary", Collected: true}
	err := decodeExtra(extra, map[string]any{
		"language": &o.Language, "executable": &o.Executable, "collected": &o.Collected,
	})
	if err != nil {
		return o, err
	}
	if strings.TrimSpace(o.Executable) == "" {
		return o, fmt.Errorf("%w: key \"executable\" is required: the script's path in the collect directory, then any words to pass before args", ErrBadExtra)
	}
	return o, nil
}

// command is what a shell run executes.
type command struct {
	argv []string // argv[0] is an absolute path
	dir  string
}

// command resolves a run's options and args to the argument array, in
// seed 002's order: the interpreter (if any), the script, the
// executable's other words, then args (the row's, then the trigger's).
func (k *Kinds) command(o shellOptions, args []string) (command, error) {
	words := strings.Fields(o.Executable)
	var interp string
	if o.Language != "binary" {
		prog, ok := k.cfg.Shell.Interpreters[o.Language]
		if !ok {
			prog, ok = defaultInterpreters[o.Language]
		}
		if !ok {
			return command{}, fmt.Errorf("%w %q in key \"language\": want one of %s", ErrUnknownLanguage, o.Language, strings.Join(Languages(), ", "))
		}
		p, err := exec.LookPath(prog)
		if err != nil {
			return command{}, fmt.Errorf("interpreter %q for language %q: %w", prog, o.Language, err)
		}
		if interp, err = filepath.Abs(p); err != nil {
			return command{}, err
		}
	}
	script, dir, err := k.resolve(words[0], o)
	if err != nil {
		return command{}, err
	}
	argv := slices.Concat([]string{interp, script}, words[1:], args)
	if interp == "" {
		argv = argv[1:]
	}
	return command{argv: argv, dir: dir}, nil
}

// resolve returns the absolute path of the script named by name, with
// symlinks resolved, and the directory to run it in: the collect
// directory for a collected script, else the daemon's own.
func (k *Kinds) resolve(name string, o shellOptions) (path, dir string, err error) {
	if !o.Collected {
		path, err = k.resolveOutside(name, o)
		return path, "", err
	}
	if filepath.IsAbs(name) {
		return "", "", fmt.Errorf("%w: %q is absolute; name a collected script by its path in %s, or set \"collected\": false", ErrOutsideCollect, name, k.collect)
	}
	if slices.Contains(strings.Split(filepath.ToSlash(name), "/"), "..") {
		return "", "", fmt.Errorf("%w: %q contains \"..\"", ErrOutsideCollect, name)
	}
	root, err := filepath.EvalSymlinks(k.collect)
	if err != nil {
		return "", "", fmt.Errorf("%w: %q: the collect directory %s: %v", ErrScriptNotFound, name, k.collect, pathReason(err))
	}
	path, err = filepath.EvalSymlinks(filepath.Join(root, name))
	if err != nil {
		return "", "", fmt.Errorf("%w: %q in %s: %v", ErrScriptNotFound, name, k.collect, pathReason(err))
	}
	if !strings.HasPrefix(path, root+string(filepath.Separator)) {
		return "", "", fmt.Errorf("%w: %q in %s is a link to %s", ErrOutsideCollect, name, k.collect, path)
	}
	return path, root, checkFile(name, path, o.Language)
}

// resolveOutside finds an uncollected program: a path (relative to the
// working directory), or a bare name in PATH.
func (k *Kinds) resolveOutside(name string, o shellOptions) (string, error) {
	if !k.cfg.Shell.AllowOutside {
		return "", fmt.Errorf("%w: %q has \"collected\": false, which config key shell.allow_outside does not allow", ErrOutsideCollect, name)
	}
	path := name
	if !strings.Contains(name, "/") {
		p, err := exec.LookPath(name)
		if err != nil {
			if errors.Is(err, exec.ErrNotFound) {
				return "", fmt.Errorf("%w: %q is not in PATH", ErrScriptNotFound, name)
			}
			return "", fmt.Errorf("%w: %q: %v", ErrNotExecutable, name, err)
		}
		path = p
	}
	abs, err := filepath.Abs(path)
	if err == nil {
		abs, err = filepath.EvalSymlinks(abs)
	}
	if err != nil {
		return "", fmt.Errorf("%w: %q: %v", ErrScriptNotFound, name, pathReason(err))
	}
	return abs, checkFile(name, abs, o.Language)
}

// checkFile refuses what cannot run: a directory or device, and for
// binary a file without an execute bit. An interpreter reads its script,
// so a script needs only to be a readable file.
func checkFile(name, path, lang string) error {
	fi, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("%w: %q: %v", ErrScriptNotFound, name, pathReason(err))
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("%w: %q is a %s, not a file", ErrNotExecutable, name, fileKind(fi.Mode()))
	}
	if lang == "binary" && fi.Mode().Perm()&0o111 == 0 {
		return fmt.Errorf("%w: %q (mode %s) has no execute bit; chmod +x it, or set \"language\" to its interpreter", ErrNotExecutable, name, fi.Mode().Perm())
	}
	return nil
}

func fileKind(m fs.FileMode) string {
	if m.IsDir() {
		return "directory"
	}
	return "special file"
}

func pathReason(err error) string {
	var pe *fs.PathError
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return "no such file"
	case errors.As(err, &pe):
		return pe.Err.Error()
	}
	return err.Error()
}

// Environment variables a shell run gets besides the daemon's own.
const (
	EnvTraceID     = "TASKRUNNER_TRACE_ID"
	EnvRunID       = "TASKRUNNER_RUN_ID"
	EnvTaskKey     = "TASKRUNNER_TASK_KEY"
	EnvScheduledAt = "TASKRUNNER_SCHEDULED_AT" // RFC 3339, UTC
	// A run of a sharded or broadcast fire gets its shard (0 to total-1)
	// and the fire's number of runs.
	EnvShardIndex = "TASKRUNNER_SHARD_INDEX"
	EnvShardTotal = "TASKRUNNER_SHARD_TOTAL"
)

// environ is the daemon's environment and the run's variables. The
// daemon's own TASKRUNNER_* variables are left out: they are its
// configuration overrides (TASKRUNNER_MYSQL_PASSWORD, ...), not the
// script's business.
func environ(run *tasks.Run) []string {
	env := slices.DeleteFunc(os.Environ(), func(kv string) bool { return strings.HasPrefix(kv, "TASKRUNNER_") })
	env = append(env,
		EnvTraceID+"="+run.TraceID,
		EnvRunID+"="+strconv.FormatInt(run.ExecID, 10),
		EnvTaskKey+"="+run.TaskKey,
		EnvScheduledAt+"="+run.ScheduledAt.UTC().Format(time.RFC3339),
	)
	if run.ShardTotal > 0 {
		env = append(env, EnvShardIndex+"="+strconv.Itoa(run.ShardIndex), EnvShardTotal+"="+strconv.Itoa(run.ShardTotal))
	}
	return env
}

// Shell runs the script or program that run.Extra names (keys language,
// executable, collected) with args. Exit status 0 is success. The last
// line of stdout is the result and the last line of stderr the message;
// both, and the end of each stream, go into the run's output, and the
// whole of both into <log_dir>/<task_key>.log. When ctx ends, the whole
// process group gets SIGTERM, and SIGKILL after shell.kill_grace.
func (k *Kinds) Shell(ctx context.Context, run *tasks.Run, args ShellArgs) error {
	o, err := parseShellOptions(run.Extra)
	if err != nil {
		return inputError(err)
	}
	cmd, err := k.command(o, args)
	if err != nil {
		return inputError(fmt.Errorf("shell: %w", err))
	}
	logger(run).DebugContext(ctx, "shell run", "argv", cmd.argv, "dir", cmd.dir)
	res := k.runProcess(ctx, run, cmd)
	res.report(run)
	return res.err()
}

// quoteArgv writes argv for a log line, each word quoted.
func quoteArgv(argv []string) string {
	var b bytes.Buffer
	for i, a := range argv {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(strconv.Quote(a))
	}
	return b.String()
}
