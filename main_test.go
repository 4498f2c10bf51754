package main

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
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
	for _, name := range []string{"common", "logger", "mysql", "redis"} {
		b, err := os.ReadFile(filepath.Join("conf", "local", name+".toml"))
		must(t, err)
		text := string(b)
		if name == "common" {
			text = strings.Replace(text, `sqlite_path = "taskrunner.db"`, `sqlite_path = "`+filepath.Join(dir, "t.db")+`"`, 1)
			for i := 0; i+1 < len(edits); i += 2 {
				text = strings.Replace(text, edits[i], edits[i+1], 1)
			}
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

func TestDaemon_SIGTERMExitsZero(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "taskrunner")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	cmd := exec.Command(bin, "-conf", localConf(t))
	cmd.Env = append(os.Environ(), "APP_ENV=local")
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
	for _, want := range []string{"inserted the sample tasks", "task_key=test_interval", "msg=stopped"} {
		if !strings.Contains(log.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, log.String())
		}
	}
}

func TestRun_BadConfigIsOneLine(t *testing.T) {
	t.Setenv("APP_ENV", "local")
	dir := localConf(t, `sync_interval = "10s"`, `sync_interval = "10 seconds"`)
	err := run([]string{"-conf", dir}, &bytes.Buffer{})
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
