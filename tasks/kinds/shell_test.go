package kinds

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"taskrunner/tasks"
)

// argvScript writes each of its arguments, NUL-terminated, to argv.out
// beside itself, prints the run's variables, and ends with a result line
// on stdout and a message line on stderr.
const argvScript = `#!/bin/sh
printf '%s\0' "$@" > "$(dirname "$0")/argv.out"
echo "trace=$TASKRUNNER_TRACE_ID run=$TASKRUNNER_RUN_ID key=$TASKRUNNER_TASK_KEY at=$TASKRUNNER_SCHEDULED_AT secret=${TASKRUNNER_MYSQL_PASSWORD-unset}"
echo "warming up" >&2
echo "done: $#"
echo "all fine" >&2
`

// readArgv returns what argvScript recorded in dir.
func readArgv(t *testing.T, dir string) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "argv.out"))
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSuffix(string(b), "\x00"), "\x00")
}

func TestKinds_Shell(t *testing.T) {
	t.Setenv("TASKRUNNER_MYSQL_PASSWORD", "hunter2")
	k, cfg := setup(t, nil)
	collect := cfg.Shell.CollectDir
	writeFile(t, collect, "jobs/args.sh", argvScript, 0o755)
	// The same script, as each language would run it.
	writeFile(t, collect, "jobs/noexec.sh", argvScript, 0o644)
	writeFile(t, collect, "jobs/args.py", `import sys, os
open(os.path.join(os.path.dirname(sys.argv[0]), "argv.out"), "w").write("".join(a + "\0" for a in sys.argv[1:]))
e = os.environ
print("trace=%s run=%s key=%s at=%s secret=%s" % (e["TASKRUNNER_TRACE_ID"], e["TASKRUNNER_RUN_ID"], e["TASKRUNNER_TASK_KEY"], e["TASKRUNNER_SCHEDULED_AT"], e.get("TASKRUNNER_MYSQL_PASSWORD", "unset")))
print("warming up", file=sys.stderr)
print("done: %d" % (len(sys.argv) - 1))
print("all fine", file=sys.stderr)
`, 0o644)
	writeFile(t, collect, "jobs/args.pl", `use File::Basename;
open(my $f, ">", dirname($0) . "/argv.out") or die;
print $f join("", map { "$_\0" } @ARGV);
print "trace=$ENV{TASKRUNNER_TRACE_ID} run=$ENV{TASKRUNNER_RUN_ID} key=$ENV{TASKRUNNER_TASK_KEY} at=$ENV{TASKRUNNER_SCHEDULED_AT} secret=" . ($ENV{TASKRUNNER_MYSQL_PASSWORD} // "unset") . "\n";
print STDERR "warming up\n";
print "done: " . scalar(@ARGV) . "\n";
print STDERR "all fine\n";
`, 0o644)

	for _, c := range []struct{ lang, script string }{
		{"binary", "jobs/args.sh"}, // the shebang runs it
		{"sh", "jobs/noexec.sh"},
		{"bash", "jobs/noexec.sh"},
		{"python", "jobs/args.py"},
		{"python3", "jobs/args.py"},
		{"perl", "jobs/args.pl"},
	} {
		t.Run(c.lang, func(t *testing.T) {
			key := "report_" + c.lang
			run := newRun(t, key, map[string]any{"language": c.lang, "executable": c.script + " w1  w2"}, nil)
			// The row's args, then one given at trigger time: run.Args as
			// the engine appends them.
			row, _ := tasks.ParseArgs(`"a1",2`)
			more, _ := tasks.ParseArgs(`"t1"`)
			args, err := row.Append(more)
			if err != nil {
				t.Fatal(err)
			}
			run.Args = args
			var shellArgs ShellArgs
			if err := run.Args.Decode(&shellArgs); err != nil {
				t.Fatal(err)
			}
			if err := k.Shell(context.Background(), run, shellArgs); err != nil {
				t.Fatalf("Shell: %v\n%s", err, run.OutputText())
			}
			if got, want := readArgv(t, filepath.Join(collect, "jobs")), []string{"w1", "w2", "a1", "2", "t1"}; !slices.Equal(got, want) {
				t.Errorf("argv %q, want %q", got, want)
			}
			out := run.OutputText()
			for _, want := range []string{
				"exit status 0 in ",
				"result: done: 5\n",
				"message: all fine\n",
				"trace=trace-" + key + " run=42 key=" + key + " at=2026-03-01T00:30:00Z secret=unset\n",
				"--- stderr (20 bytes) ---\nwarming up\nall fine\n",
			} {
				if !strings.Contains(out, want) {
					t.Errorf("output lacks %q:\n%s", want, out)
				}
			}
			log, err := os.ReadFile(filepath.Join(cfg.Shell.LogDir, key+".log"))
			if err != nil {
				t.Fatal(err)
			}
			for _, want := range []string{"run=42 == start trace=trace-" + key, "run=42 stdout| done: 5", "run=42 stderr| warming up", "run=42 == end exit status 0"} {
				if !strings.Contains(string(log), want) {
					t.Errorf("log lacks %q:\n%s", want, log)
				}
			}
		})
	}
}

func TestKinds_Shell_fails(t *testing.T) {
	k, cfg := setup(t, nil)
	writeFile(t, cfg.Shell.CollectDir, "fail.sh", "#!/bin/sh\necho partial\necho 'disk full' >&2\necho '' >&2\nexit 3\n", 0o755)
	run := newRun(t, "fail", map[string]any{"executable": "fail.sh"}, nil)
	err := k.Shell(context.Background(), run, nil)
	if err == nil || err.Error() != "exit status 3: disk full" || errors.Is(err, tasks.ErrNoRetry) {
		t.Fatalf("err = %v (a failure to retry, with the last stderr line)", err)
	}
	if out := run.OutputText(); !strings.Contains(out, "result: partial\nmessage: disk full\n") {
		t.Errorf("output:\n%s", out)
	}
}

// TestKinds_Shell_quoting puts shell metacharacters, $(...), backticks,
// newlines and ".." in every field a row gives: they arrive as argv,
// byte for byte, or the run is refused. No command they spell runs.
func TestKinds_Shell_quoting(t *testing.T) {
	k, cfg := setup(t, nil)
	collect := cfg.Shell.CollectDir
	writeFile(t, collect, "args.sh", argvScript, 0o755)
	pwned := filepath.Join(collect, "pwned")
	nasty := []string{
		"$(touch " + pwned + ")",
		"`touch " + pwned + "`",
		"; touch " + pwned,
		"&& touch " + pwned + " || true",
		"| tee " + pwned,
		"> " + pwned,
		"line1\nline2\ntouch " + pwned,
		"'\"\\ $HOME ${PATH} *?[a] ~ !!",
		"../../etc/passwd",
		"-rf",
		"",
	}
	for _, lang := range []string{"binary", "sh", "bash"} {
		t.Run(lang+"/args", func(t *testing.T) {
			run := newRun(t, "quote", map[string]any{"language": lang, "executable": "args.sh"}, nil)
			if err := k.Shell(context.Background(), run, ShellArgs(nasty)); err != nil {
				t.Fatalf("Shell: %v\n%s", err, run.OutputText())
			}
			if got := readArgv(t, collect); !slices.Equal(got, nasty) {
				t.Errorf("argv\n%q\nwant\n%q", got, nasty)
			}
		})
	}
	t.Run("executable words", func(t *testing.T) {
		// Words are split on white space and nothing else: no quotes, no
		// expansion.
		exe := "args.sh $(touch " + pwned + ") `id` a;b '..' \"x y\"\ntouch " + pwned
		run := newRun(t, "quote", map[string]any{"language": "sh", "executable": exe}, nil)
		if err := k.Shell(context.Background(), run, ShellArgs{"$(id)"}); err != nil {
			t.Fatalf("Shell: %v", err)
		}
		want := []string{"$(touch", pwned + ")", "`id`", "a;b", "'..'", "\"x", "y\"", "touch", pwned, "$(id)"}
		if got := readArgv(t, collect); !slices.Equal(got, want) {
			t.Errorf("argv\n%q\nwant\n%q", got, want)
		}
	})
	t.Run("script path", func(t *testing.T) {
		for _, path := range []string{
			"args.sh;touch " + pwned,
			"$(touch " + pwned + ")",
			"`touch " + pwned + "`",
			"args.sh|touch",
			"../collect/args.sh",
			"./../../../bin/sh",
			"sub/../../args.sh",
		} {
			run := newRun(t, "quote", map[string]any{"language": "sh", "executable": path}, nil)
			err := k.Shell(context.Background(), run, nil)
			if !errors.Is(err, ErrScriptNotFound) && !errors.Is(err, ErrOutsideCollect) || !errors.Is(err, tasks.ErrNoRetry) {
				t.Errorf("executable %q: %v, want refused", path, err)
			}
		}
	})
	t.Run("language and task key", func(t *testing.T) {
		run := newRun(t, "quote", map[string]any{"language": "sh; touch " + pwned, "executable": "args.sh"}, nil)
		if err := k.Shell(context.Background(), run, nil); !errors.Is(err, ErrUnknownLanguage) {
			t.Errorf("language: %v", err)
		}
		// A task key names the log file: it cannot reach out of logs/.
		key := "../../x/$(touch " + pwned + ")\n`id`"
		run = newRun(t, key, map[string]any{"executable": "args.sh"}, nil)
		if err := k.Shell(context.Background(), run, nil); err != nil {
			t.Fatal(err)
		}
		entries, _ := os.ReadDir(cfg.Shell.LogDir)
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		if len(names) != 2 || names[1] != "quote.log" || strings.HasPrefix(names[0], ".") || strings.ContainsAny(names[0], "/\n$`()") {
			t.Errorf("logs/ holds %q", names)
		}
		if _, err := os.Stat(filepath.Join(cfg.Shell.LogDir, "..", "..", "x")); err == nil {
			t.Error("the task key made a directory outside logs/")
		}
	})
	if _, err := os.Stat(pwned); err == nil {
		t.Fatal("a command from a row ran: " + pwned + " exists")
	}
}

func TestKinds_Shell_badInput(t *testing.T) {
	outside := t.TempDir()
	writeFile(t, outside, "evil.sh", "#!/bin/sh\necho evil\n", 0o755)
	k, cfg := setup(t, nil)
	collect := cfg.Shell.CollectDir
	writeFile(t, collect, "ok.sh", "#!/bin/sh\necho ok\n", 0o755)
	writeFile(t, collect, "plain.sh", "#!/bin/sh\necho ok\n", 0o644)
	if err := os.Mkdir(filepath.Join(collect, "dir"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(outside, "evil.sh"), filepath.Join(collect, "link.sh")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(collect, "linkdir")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("ok.sh", filepath.Join(collect, "inside.sh")); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name  string
		extra any
		want  error
		msg   string
	}{
		{"missing script", map[string]any{"executable": "nope.sh"}, ErrScriptNotFound, `script not found: "nope.sh" in ` + collect + `: no such file`},
		{"dotdot", map[string]any{"executable": "../outside.sh"}, ErrOutsideCollect, `"../outside.sh" contains ".."`},
		{"absolute", map[string]any{"executable": filepath.Join(outside, "evil.sh")}, ErrOutsideCollect, "is absolute"},
		{"symlink out", map[string]any{"executable": "link.sh"}, ErrOutsideCollect, `"link.sh" in ` + collect + ` is a link to ` + filepath.Join(outside, "evil.sh")},
		{"symlinked dir out", map[string]any{"executable": "linkdir/evil.sh"}, ErrOutsideCollect, "is a link to"},
		{"not executable", map[string]any{"executable": "plain.sh"}, ErrNotExecutable, `"plain.sh" (mode -rw-r--r--) has no execute bit`},
		{"directory", map[string]any{"language": "sh", "executable": "dir"}, ErrNotExecutable, `"dir" is a directory`},
		{"unknown language", map[string]any{"language": "ruby", "executable": "ok.sh"}, ErrUnknownLanguage, `unknown language "ruby" in key "language": want one of bash, binary, perl, python, python3, sh`},
		{"outside not allowed", map[string]any{"executable": "true", "collected": false}, ErrOutsideCollect, "shell.allow_outside does not allow"},
		{"no executable", map[string]any{"language": "sh"}, ErrBadExtra, `key "executable" is required`},
		{"executable blank", map[string]any{"executable": " \n "}, ErrBadExtra, `key "executable" is required`},
		{"wrong type", map[string]any{"executable": []string{"ok.sh"}}, ErrBadExtra, `key "executable": want a string, got a JSON array`},
		{"extra not an object", `["ok.sh"]`, ErrBadExtra, "not a JSON object"},
	} {
		t.Run(c.name, func(t *testing.T) {
			run := newRun(t, "bad", c.extra, nil)
			err := func() (err error) {
				defer func() {
					if p := recover(); p != nil {
						err = fmt.Errorf("panic: %v", p)
					}
				}()
				return k.Shell(context.Background(), run, nil)
			}()
			if !errors.Is(err, c.want) || !errors.Is(err, tasks.ErrNoRetry) || !strings.Contains(err.Error(), c.msg) {
				t.Fatalf("err = %v\nwant %v with %q, not retried", err, c.want, c.msg)
			}
		})
	}
	t.Run("symlink inside", func(t *testing.T) {
		if err := k.Shell(context.Background(), newRun(t, "ok", map[string]any{"executable": "inside.sh"}, nil), nil); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("outside allowed", func(t *testing.T) {
		k, _ := setup(t, func(c *Config) { c.Shell.AllowOutside = true })
		run := newRun(t, "outside", map[string]any{"executable": "echo hello", "collected": false}, nil)
		if err := k.Shell(context.Background(), run, ShellArgs{"world"}); err != nil {
			t.Fatal(err)
		}
		if out := run.OutputText(); !strings.Contains(out, "result: hello world\n") {
			t.Errorf("output:\n%s", out)
		}
		run = newRun(t, "outside", map[string]any{"executable": filepath.Join(outside, "evil.sh"), "collected": false}, nil)
		if err := k.Shell(context.Background(), run, nil); err != nil {
			t.Fatal(err)
		}
		run = newRun(t, "outside", map[string]any{"executable": "no-such-program-here", "collected": false}, nil)
		if err := k.Shell(context.Background(), run, nil); !errors.Is(err, ErrScriptNotFound) || !strings.Contains(err.Error(), "is not in PATH") {
			t.Fatal(err)
		}
	})
}

// gone reports whether pid has ended: no such process, or a zombie that
// its new parent (PID 1 here may not be an init) has not reaped.
func gone(pid int) bool {
	if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
		return true
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	// pid (comm) state ...: comm may hold spaces, so split after ')'.
	s := string(stat)
	rest := s[strings.LastIndexByte(s, ')')+1:]
	return strings.HasPrefix(strings.TrimSpace(rest), "Z")
}

// waitFor polls cond until it holds or d passes.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %s: %s", d, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestKinds_Shell_timeout: a child that ignores SIGTERM, with a grandchild
// that ignores it too, both end within the kill grace of the timeout.
func TestKinds_Shell_timeout(t *testing.T) {
	k, cfg := setup(t, nil)
	collect := cfg.Shell.CollectDir
	// trap '' TERM is inherited: the grandchild sleep ignores it too.
	writeFile(t, collect, "stubborn.sh", `#!/bin/sh
trap '' TERM
sleep 1000 &
echo "$$ $!" > "$1.tmp" && mv "$1.tmp" "$1"
echo started
wait
`, 0o755)
	pidFile := filepath.Join(t.TempDir(), "pids")
	for _, how := range []string{"timeout", "cancel"} {
		t.Run(how, func(t *testing.T) {
			_ = os.Remove(pidFile)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if how == "timeout" {
				ctx, cancel = context.WithTimeout(ctx, time.Second)
				defer cancel()
			}
			run := newRun(t, "stubborn", map[string]any{"executable": "stubborn.sh"}, nil)
			done := make(chan error, 1)
			start := time.Now()
			go func() { done <- k.Shell(ctx, run, ShellArgs{pidFile}) }()
			var pids []int
			waitFor(t, 5*time.Second, "no pid file", func() bool {
				b, err := os.ReadFile(pidFile)
				if err != nil {
					return false
				}
				for _, f := range strings.Fields(string(b)) {
					n, _ := strconv.Atoi(f)
					pids = append(pids, n)
				}
				return true
			})
			if len(pids) != 2 || gone(pids[0]) || gone(pids[1]) {
				t.Fatalf("pids %v: want the child and grandchild, running", pids)
			}
			if how == "cancel" {
				cancel()
			}
			var err error
			select {
			case err = <-done:
			case <-time.After(10 * time.Second):
				t.Fatal("Shell did not return after its context ended")
			}
			if !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) || errors.Is(err, tasks.ErrNoRetry) {
				t.Errorf("err = %v", err)
			}
			if !strings.Contains(err.Error(), "killed by signal SIGKILL") {
				t.Errorf("err = %v, want the SIGKILL told", err)
			}
			if elapsed := time.Since(start); elapsed > 5*time.Second {
				t.Errorf("took %s", elapsed)
			}
			for _, pid := range pids {
				waitFor(t, 2*time.Second, fmt.Sprintf("pid %d survived", pid), func() bool { return gone(pid) })
			}
			log, _ := os.ReadFile(filepath.Join(cfg.Shell.LogDir, "stubborn.log"))
			if !bytes.Contains(log, []byte("SIGTERM to process group")) || !bytes.Contains(log, []byte("SIGKILL to process group")) {
				t.Errorf("log:\n%s", log)
			}
		})
	}
}

// TestKinds_Shell_leftovers: a process a finished script left in the
// background is ended with it, and does not hold the run open.
func TestKinds_Shell_leftovers(t *testing.T) {
	k, cfg := setup(t, nil)
	writeFile(t, cfg.Shell.CollectDir, "bg.sh", "#!/bin/sh\nsleep 1000 &\necho $! > \"$1\"\necho ok\n", 0o755)
	pidFile := filepath.Join(t.TempDir(), "pid")
	start := time.Now()
	if err := k.Shell(context.Background(), newRun(t, "bg", map[string]any{"executable": "bg.sh"}, nil), ShellArgs{pidFile}); err != nil {
		t.Fatal(err)
	}
	if elapsed := time.Since(start); elapsed > 2*time.Second {
		t.Errorf("took %s: the background sleep held the run", elapsed)
	}
	b, _ := os.ReadFile(pidFile)
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	waitFor(t, 2*time.Second, "background process survived", func() bool { return gone(pid) })
}

func TestKinds_Shell_logRotation(t *testing.T) {
	k, cfg := setup(t, func(c *Config) { c.Shell.LogMaxBytes, c.Shell.LogKeep, c.Shell.TailBytes = 4096, 2, 100 })
	writeFile(t, cfg.Shell.CollectDir, "loud.sh", "#!/bin/sh\ni=0\nwhile [ $i -lt 50 ]; do echo \"line $i of a loud script\"; i=$((i+1)); done\n", 0o755)
	for range 6 {
		run := newRun(t, "loud", map[string]any{"executable": "loud.sh"}, nil)
		if err := k.Shell(context.Background(), run, nil); err != nil {
			t.Fatal(err)
		}
		if out := run.OutputText(); !strings.Contains(out, "result: line 49 of a loud script\n") || !strings.Contains(out, "--- stdout (last 100 of 1240 bytes) ---\n") {
			t.Fatalf("output:\n%s", out)
		}
	}
	for _, name := range []string{"loud.log", "loud.log.1", "loud.log.2"} {
		fi, err := os.Stat(filepath.Join(cfg.Shell.LogDir, name))
		if err != nil || fi.Size() > 4096 || fi.Size() == 0 {
			t.Errorf("%s: %v, size %d", name, err, fi.Size())
		}
	}
	if _, err := os.Stat(filepath.Join(cfg.Shell.LogDir, "loud.log.3")); err == nil {
		t.Error("loud.log.3 kept; log_keep is 2")
	}
}
