package main

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// localConf copies conf/local into a temp dir, with the SQLite file
// there too, and applies edits to common.toml.
func localConf(t *testing.T, edits ...string) string {
	t.Helper()
	dir := t.TempDir()
	must(t, os.MkdirAll(filepath.Join(dir, "local"), 0o755))
	files, err := filepath.Glob(filepath.Join("conf", "local", "*.toml"))
	must(t, err)
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".toml")
		b, err := os.ReadFile(file)
		must(t, err)
		text := string(b)
		if name == "common" {
			text = strings.Replace(text, `sqlite_path = "taskrunner.db"`, `sqlite_path = "`+filepath.Join(dir, "t.db")+`"`, 1)
			for i := 0; i+1 < len(edits); i += 2 {
				text = strings.Replace(text, edits[i], edits[i+1], 1)
			}
		}
		if name == "api" {
			text = strings.Replace(text, `addr = "127.0.0.1:8080"`, `addr = "127.0.0.1:0"`, 1)
			text = strings.Replace(text, `token_file = "taskrunner.api-token.sha256"`, `token_file = "`+filepath.Join(dir, "t.api-token.sha256")+`"`, 1)
		}
		must(t, os.WriteFile(filepath.Join(dir, "local", name+".toml"), []byte(text), 0o644))
	}
	return dir
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// build builds the command, with its version set as a release sets it.
func build(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "taskrunner")
	if out, err := exec.Command("go", "build", "-ldflags", "-X main.version=v0.0.0-test", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	return bin
}

func TestDaemon_SIGTERMExitsZero(t *testing.T) {
	bin := build(t)
	cmd := exec.Command(bin, "--conf", localConf(t))
	cmd.Env = append(os.Environ(), "APP_ENV=local")
	var stdout bytes.Buffer
	cmd.Stdout = &stdout
	stderr, err := cmd.StderrPipe()
	must(t, err)
	must(t, cmd.Start())
	lines := bufio.NewScanner(stderr)
	var log bytes.Buffer
	for lines.Scan() {
		log.WriteString(lines.Text() + "\n")
		if strings.Contains(lines.Text(), "task scheduled") {
			break
		}
	}
	must(t, cmd.Process.Signal(syscall.SIGTERM))
	done := make(chan error, 1)
	go func() {
		for lines.Scan() {
			log.WriteString(lines.Text() + "\n")
		}
		done <- cmd.Wait()
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("exit: %v\n%s", err, log.String())
		}
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatalf("did not exit after SIGTERM\n%s", log.String())
	}
	for _, want := range []string{"inserted the sample tasks", "inserted the system task", "version=v0.0.0-test", "task_key=test_interval", "msg=stopped", "msg=\"api serving\""} {
		if !strings.Contains(log.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, log.String())
		}
	}
	// local's first start prints the API's admin token once, on stdout
	// and not in the log.
	_, token, ok := strings.Cut(stdout.String(), "Authorization: Bearer ")
	token, _, _ = strings.Cut(token, "\"")
	if !ok || len(token) != 43 || strings.Contains(log.String(), token) {
		t.Errorf("sign-in line: stdout %q (token in the log: %v)", stdout.String(), ok && strings.Contains(log.String(), token))
	}
	if !strings.Contains(stdout.String(), "Web console at http://") {
		t.Errorf("stdout does not give the console's address: %q", stdout.String())
	}
}

func TestRun_BadConfigIsOneLine(t *testing.T) {
	t.Setenv("APP_ENV", "local")
	dir := localConf(t, `sync_interval = "10s"`, `sync_interval = "10 seconds"`)
	err := run([]string{"--conf", dir}, &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "common.toml") || !strings.Contains(err.Error(), "sync_interval") || strings.Contains(err.Error(), "\n") {
		t.Fatalf("err = %v", err)
	}
}

func TestRun_Next(t *testing.T) {
	var out bytes.Buffer
	must(t, run([]string{"next", "--trigger", "cron", "--spec", "0 9 * * *", "-n", "2", "--tz", "Asia/Shanghai"}, &out))
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 3 || lines[0] != "cron 0 9 * * *" || !strings.HasSuffix(lines[1], "09:00:00 "+lines[1][20:23]+" +0800 CST") {
		t.Fatalf("next printed:\n%s", out.String())
	}
	err := run([]string{"next", "--trigger", "interval", "--spec", "0.5s"}, &out)
	if err == nil || err.Error() != `column spec: bad spec: interval "0.5s": must be at least 1s` {
		t.Fatalf("bad spec: %v", err)
	}
}

// verbs are the commands every --help lists.
var verbs = []string{"run", "migrate", "next", "version", "tasks", "trigger", "backfill", "runs", "validate", "kill", "workers", "audit", "completion", "help", "tokens", "worker"}

func TestRun_Help(t *testing.T) {
	for _, args := range [][]string{
		{"--help"}, {"-h"}, {"help"},
		{"run", "--help"}, {"migrate", "--help"}, {"next", "--help"}, {"version", "--help"},
		{"next", "-h"}, {"help", "next"}, {"--conf", "nowhere", "run", "-h"},
		{"tasks", "--help"}, {"tasks", "list", "--help"}, {"tasks", "show", "--help"}, {"tasks", "create", "--help"},
		{"tasks", "edit", "--help"}, {"tasks", "enable", "--help"}, {"tasks", "disable", "--help"}, {"tasks", "delete", "--help"},
		{"trigger", "--help"}, {"backfill", "--help"}, {"runs", "--help"}, {"validate", "--help"}, {"kill", "--help"},
		{"workers", "--help"}, {"audit", "--help"}, {"completion", "--help"},
		{"tokens", "--help"}, {"tokens", "add", "--help"}, {"tokens", "list", "--help"}, {"tokens", "revoke", "--help"},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			var out bytes.Buffer
			if err := run(args, &out); err != nil {
				t.Fatalf("err = %v", err)
			}
			for _, verb := range verbs {
				if !regexp.MustCompile(`(?m)^  ` + verb + ` +\S`).MatchString(out.String()) {
					t.Errorf("help does not list %q:\n%s", verb, out.String())
				}
			}
			if !strings.Contains(out.String(), "--conf") {
				t.Errorf("help does not show --conf:\n%s", out.String())
			}
		})
	}
}

func TestRun_BadCommandLine(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"frobnicate"}, `unknown command "frobnicate" for "taskrunner"`},
		{[]string{"next", "--bogus"}, "unknown flag: --bogus"},
		{[]string{"--bogus"}, "unknown flag: --bogus"},
		{[]string{"migrate", "now"}, `unknown command "now" for "taskrunner migrate"`},
		{[]string{"next", "-n", "many", "--spec", "5"}, `invalid argument "many" for "-n, --count"`},
		{[]string{"next"}, `give a task key, or --spec`},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			var out bytes.Buffer
			err := run(tt.args, &out)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
			if out.Len() != 0 {
				t.Errorf("printed %q; errors are for main to print", out.String())
			}
		})
	}
}

func TestRun_Version(t *testing.T) {
	var out bytes.Buffer
	must(t, run([]string{"version"}, &out))
	if out.String() != "taskrunner dev\n" {
		t.Fatalf("version printed %q", out.String())
	}
}

// TestBinary_ExitStatus runs the built command: --help exits 0 and lists
// the commands, a bad command line exits 2 naming what is wrong, a
// failed command 1, and version prints what -ldflags set.
func TestBinary_ExitStatus(t *testing.T) {
	bin := build(t)
	tests := []struct {
		args        []string
		code        int
		out, errOut string
	}{
		{[]string{"--help"}, 0, "  next ", ""},
		{[]string{"next", "--help"}, 0, "  migrate ", ""},
		{[]string{"version"}, 0, "taskrunner v0.0.0-test\n", ""},
		{[]string{"--help"}, 0, "Exit status: 0 success", ""},
		{[]string{"completion", "bash"}, 0, "bash completion", ""},
		{[]string{"frobnicate"}, 2, "", `taskrunner: unknown command "frobnicate"`},
		{[]string{"next", "--spec", "5", "--bogus"}, 2, "", "taskrunner: unknown flag: --bogus"},
		{[]string{"trigger", "report"}, 2, "", "taskrunner: trigger needs a running daemon"},
		{[]string{"next", "--spec", "61 * * * *"}, 1, "", "end of range"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			cmd := exec.Command(bin, tt.args...)
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err := cmd.Run()
			code := 0
			if ee, ok := err.(*exec.ExitError); ok {
				code = ee.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			if code != tt.code || !strings.Contains(stdout.String(), tt.out) || !strings.Contains(stderr.String(), tt.errOut) {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tt.code, stdout.String(), stderr.String())
			}
		})
	}
}
