// Package procstat reads a process's CPU time and peak memory from Linux's
// /proc, and finds the local database and Redis servers, so that the
// benchmarks can report their own figures and the servers' beside them.
package procstat

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"
)

// ErrNoServer says no single local mariadbd/mysqld process was found.
var ErrNoServer = errors.New("no local mariadbd/mysqld process")

// clockTick is the unit of utime and stime in /proc/<pid>/stat: USER_HZ,
// which Linux fixes at 100 for user space whatever the kernel's HZ.
const clockTick = 10 * time.Millisecond

// CPU returns the user and system CPU time process pid has used so far.
func CPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	return parseStat(string(b))
}

// parseStat reads utime and stime (fields 14 and 15) of a stat line. The
// command name (field 2) may hold spaces and parentheses, so fields are
// counted from the last ')'.
func parseStat(s string) (time.Duration, error) {
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, errors.New("stat: no command name")
	}
	f := strings.Fields(s[i+1:]) // f[0] is field 3, the state
	if len(f) < 13 {
		return 0, errors.New("stat: too few fields")
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, fmt.Errorf("stat: %w", err)
	}
	return time.Duration(utime+stime) * clockTick, nil
}

// PeakRSS returns the peak resident set of process pid (VmHWM), in bytes.
// It is the process's own: getrusage's ru_maxrss also keeps the peak of the
// image the process exec'd from, which under `go run` is the go tool's.
// It cannot be read once the process has exited.
func PeakRSS(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			if err != nil {
				return 0, fmt.Errorf("status: VmHWM: %w", err)
			}
			return kb << 10, nil
		}
	}
	return 0, errors.New("status: no VmHWM")
}

// Server finds the process of the MySQL server a DSN names, when it runs
// on this machine: a loopback address or a Unix socket, and exactly one
// process named mariadbd or mysqld. Otherwise it returns ErrNoServer.
func Server(dsn string) (pid int, name string, err error) {
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		return 0, "", err
	}
	if cfg.Net != "unix" {
		host, _, err := net.SplitHostPort(cfg.Addr)
		if err != nil {
			host = cfg.Addr
		}
		if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
			return 0, "", ErrNoServer
		}
	}
	found, name := byName("mariadbd", "mysqld")
	if len(found) != 1 {
		return 0, "", ErrNoServer
	}
	return found[0], name, nil
}

// byName returns the processes whose command name (comm) is one of
// names, and the name of the last found.
func byName(names ...string) (pids []int, name string) {
	comms, _ := filepath.Glob("/proc/[0-9]*/comm")
	for _, path := range comms {
		b, err := os.ReadFile(path)
		if err != nil {
			continue // gone since the glob
		}
		if c := strings.TrimSpace(string(b)); slices.Contains(names, c) {
			pid, _ := strconv.Atoi(filepath.Base(filepath.Dir(path)))
			pids, name = append(pids, pid), c
		}
	}
	return pids, name
}

// ErrNoRedis says no single local redis-server process was found.
var ErrNoRedis = errors.New("no local redis-server process")

// Redis finds the process of the Redis server at addr (host:port) when it
// runs on this machine: a loopback address and exactly one process named
// redis-server. Otherwise it returns ErrNoRedis.
func Redis(addr string) (pid int, err error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		host = addr
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return 0, ErrNoRedis
	}
	found, _ := byName("redis-server")
	if len(found) != 1 {
		return 0, ErrNoRedis
	}
	return found[0], nil
}

// StartRedisCPU starts measuring the Redis server at addr: process pid
// when it is not 0 (the process_id of its INFO), else the one Redis
// finds. An empty addr means no Redis is used.
func StartRedisCPU(addr string, pid int) *ServerCPU {
	s := &ServerCPU{name: "redis-server", pid: pid}
	if addr == "" {
		s.why = "no Redis: the in-process queue"
		return s
	}
	if s.pid == 0 {
		var err error
		if s.pid, err = Redis(addr); err != nil {
			s.why = err.Error()
			return s
		}
	}
	return s.start()
}

// ServerCPU measures the CPU the local database server uses over a window:
// all of it, whichever clients it is serving.
type ServerCPU struct {
	pid   int
	name  string
	why   string // set when not measured
	cpu   time.Duration
	began time.Time
}

// StartServerCPU finds the server of a MySQL DSN and starts measuring it.
// A driver other than "mysql" has no server process to measure.
func StartServerCPU(driver, dsn string) *ServerCPU {
	s := &ServerCPU{}
	if driver != "mysql" {
		s.why = driver + ": the database runs inside the measured process"
		return s
	}
	var err error
	if s.pid, s.name, err = Server(dsn); err != nil {
		s.why = err.Error()
		return s
	}
	return s.start()
}

// start reads the server's CPU so far: the window begins.
func (s *ServerCPU) start() *ServerCPU {
	var err error
	if s.cpu, err = CPU(s.pid); err != nil {
		s.why = fmt.Sprintf("%s pid %d: %v", s.name, s.pid, err)
	}
	s.began = time.Now()
	return s
}

// Stop ends the window and says what the server used, as a share of one
// core, or why it was not measured.
func (s *ServerCPU) Stop() string {
	if s.why != "" {
		return "not measured (" + s.why + ")"
	}
	cpu, err := CPU(s.pid)
	wall := time.Since(s.began)
	if err != nil {
		return fmt.Sprintf("not measured (%s pid %d: %v)", s.name, s.pid, err)
	}
	return fmt.Sprintf("%.1f%% of one core (%s pid %d, all its clients)", 100*float64(cpu-s.cpu)/float64(wall), s.name, s.pid)
}
