package kinds

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"

	"taskrunner/tasks"
)

// procResult is how a process ended and what it wrote.
type procResult struct {
	argv           []string
	stdout, stderr *capture
	elapsed        time.Duration
	startErr       error
	state          *os.ProcessState
	ctxErr         error // the run's context ended first
	logErr         error
}

// runProcess runs cmd in a process group of its own. It returns once the
// group's leader has exited and both streams are read to their end (or
// shell.kill_grace after the leader, for a stream some escaped process
// still holds). However the leader ends, the rest of its group is then
// killed: a run leaves no process behind.
func (k *Kinds) runProcess(ctx context.Context, run *tasks.Run, c command) *procResult {
	grace := k.cfg.Shell.KillGrace
	log, logErr := k.logs.open(run.TaskKey)
	res := &procResult{argv: c.argv, logErr: logErr}
	defer log.close()
	log.printf(run.ExecID, "start trace=%s scheduled=%s argv=%s", run.TraceID, run.ScheduledAt.UTC().Format(time.RFC3339), quoteArgv(c.argv))
	tail := k.cfg.Shell.TailBytes
	res.stdout, res.stderr = newCapture("stdout", tail, log, run.ExecID), newCapture("stderr", tail, log, run.ExecID)

	outR, outW, err := os.Pipe()
	if err != nil {
		res.startErr = err
		return res
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		outR.Close()
		outW.Close()
		res.startErr = err
		return res
	}
	cmd := exec.Command(c.argv[0], c.argv[1:]...)
	cmd.Dir, cmd.Env = c.dir, environ(run)
	// Files, not writers: exec then starts no copying goroutines of its
	// own, and Wait returns when the leader exits even if a grandchild
	// still holds a stream.
	cmd.Stdout, cmd.Stderr = outW, errW
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	start := time.Now()
	err = cmd.Start()
	outW.Close()
	errW.Close()
	if err != nil {
		outR.Close()
		errR.Close()
		res.startErr = err
		log.printf(run.ExecID, "start failed: %v", err)
		return res
	}
	var reading sync.WaitGroup
	reading.Go(func() { res.stdout.readFrom(outR) })
	reading.Go(func() { res.stderr.readFrom(errR) })

	pgid := cmd.Process.Pid // Setpgid: the leader's pid is the group's id
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait() // its error is in ProcessState
		close(exited)
	}()
	select {
	case <-exited:
	case <-ctx.Done():
		res.ctxErr = context.Cause(ctx)
		log.printf(run.ExecID, "%v: SIGTERM to process group %d", res.ctxErr, pgid)
		_ = syscall.Kill(-pgid, syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(grace):
			log.printf(run.ExecID, "still running %s after SIGTERM: SIGKILL to process group %d", grace, pgid)
			_ = syscall.Kill(-pgid, syscall.SIGKILL)
			<-exited
		}
	}
	res.elapsed = time.Since(start)
	res.state = cmd.ProcessState
	// The leader is reaped, but its group lives on while any member does,
	// so its id is not reused yet: this reaches only the run's leftovers.
	_ = syscall.Kill(-pgid, syscall.SIGKILL)

	streams := make(chan struct{})
	go func() { reading.Wait(); close(streams) }()
	select {
	case <-streams:
	case <-time.After(grace):
		// A process that left the group (setsid) holds a stream open.
		log.printf(run.ExecID, "a stream is still open %s after the process group ended: closed", grace)
		outR.Close()
		errR.Close()
		<-streams
	}
	outR.Close()
	errR.Close()
	log.printf(run.ExecID, "end %s in %s", res.status(), res.elapsed.Round(time.Millisecond))
	return res
}

// status words how the process ended.
func (r *procResult) status() string {
	switch {
	case r.startErr != nil:
		return "not started: " + r.startErr.Error()
	case r.state == nil:
		return "unknown"
	}
	if ws, ok := r.state.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return "killed by signal " + signalName(ws.Signal())
	}
	return fmt.Sprintf("exit status %d", r.state.ExitCode())
}

func signalName(s syscall.Signal) string {
	switch s {
	case syscall.SIGKILL:
		return "SIGKILL"
	case syscall.SIGTERM:
		return "SIGTERM"
	case syscall.SIGINT:
		return "SIGINT"
	case syscall.SIGSEGV:
		return "SIGSEGV"
	case syscall.SIGABRT:
		return "SIGABRT"
	}
	return fmt.Sprintf("%d (%s)", int(s), s)
}

// err is the run's outcome: nil for exit status 0.
func (r *procResult) err() error {
	switch {
	case r.startErr != nil:
		return fmt.Errorf("shell: start %s: %w", r.argv[0], r.startErr)
	case r.ctxErr != nil:
		return fmt.Errorf("shell: %s; process group ended (%s): %w", r.ctxErr, r.status(), r.ctxErr)
	case r.state != nil && r.state.Success():
		return nil
	}
	msg := r.status()
	if line := r.stderr.lastLine(); line != "" {
		msg += ": " + line
	}
	return errors.New(msg)
}

// report writes the result and message lines first (execute_task.output
// keeps the beginning), then the end of each stream.
func (r *procResult) report(run *tasks.Run) {
	run.Printf("%s in %s\n", r.status(), r.elapsed.Round(time.Millisecond))
	run.Printf("result: %s\n", r.stdout.lastLine())
	run.Printf("message: %s\n", r.stderr.lastLine())
	if r.logErr != nil {
		run.Printf("log: %v\n", r.logErr)
	}
	for _, c := range []*capture{r.stdout, r.stderr} {
		if c.total == 0 {
			continue
		}
		tail := c.tail.bytes()
		head := fmt.Sprintf("--- %s (%d bytes) ---", c.name, c.total)
		if int64(len(tail)) < c.total {
			head = fmt.Sprintf("--- %s (last %d of %d bytes) ---", c.name, len(tail), c.total)
		}
		run.Printf("%s\n%s", head, tail)
		if !strings.HasSuffix(string(tail), "\n") {
			run.Printf("\n")
		}
	}
}
