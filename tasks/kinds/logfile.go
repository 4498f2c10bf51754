package kinds

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// logFiles are the per-task logs, <dir>/<task_key>.log, each rotated at
// maxBytes with keep old files. Runs of one task share its open file.
type logFiles struct {
	dir      string
	maxBytes int64
	keep     int

	mu    sync.Mutex
	files map[string]*logFile
}

func newLogFiles(dir string, maxBytes int64, keep int) *logFiles {
	return &logFiles{dir: dir, maxBytes: maxBytes, keep: keep, files: map[string]*logFile{}}
}

// logName makes a task key a file name: anything but letters, digits,
// '-', '_' and '.' becomes '_', and a leading '.' too, so no key reaches
// outside the directory or hides its file.
func logName(taskKey string) string {
	b := []byte(taskKey)
	for i, c := range b {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.' && i > 0
		if !ok {
			b[i] = '_'
		}
	}
	if len(b) == 0 {
		return "_.log"
	}
	return string(b) + ".log"
}

// open returns the task's log; a log that cannot be opened is returned
// too, writing nothing, with the reason.
func (l *logFiles) open(taskKey string) (*logFile, error) {
	path := filepath.Join(l.dir, logName(taskKey))
	l.mu.Lock()
	defer l.mu.Unlock()
	if f, ok := l.files[path]; ok {
		f.users++
		return f, nil
	}
	f := &logFile{owner: l, path: path, users: 1}
	if err := os.MkdirAll(l.dir, 0o755); err != nil {
		return &logFile{}, fmt.Errorf("log %s: %w", path, err)
	}
	if err := f.reopen(); err != nil {
		return &logFile{}, err
	}
	l.files[path] = f
	return f, nil
}

// logFile is one task's log. Its methods do nothing on a zero logFile.
type logFile struct {
	owner *logFiles
	path  string
	users int // runs using it, under owner.mu

	mu   sync.Mutex
	f    *os.File
	size int64
}

func (f *logFile) reopen() error {
	fh, err := os.OpenFile(f.path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("log %s: %w", f.path, err)
	}
	fi, err := fh.Stat()
	if err != nil {
		fh.Close()
		return fmt.Errorf("log %s: %w", f.path, err)
	}
	f.f, f.size = fh, fi.Size()
	return nil
}

// close ends a run's use; the last user closes the file.
func (f *logFile) close() {
	if f.owner == nil {
		return
	}
	f.owner.mu.Lock()
	defer f.owner.mu.Unlock()
	if f.users--; f.users > 0 {
		return
	}
	delete(f.owner.files, f.path)
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.f != nil {
		f.f.Close()
		f.f = nil
	}
}

// line writes one line of a stream, stamped with the time and run id.
func (f *logFile) line(runID int64, stream string, text []byte) {
	f.write(fmt.Sprintf("%s run=%d %s| %s\n", time.Now().UTC().Format("2006-01-02T15:04:05.000Z"), runID, stream, text))
}

// printf writes one line of the runner's own.
func (f *logFile) printf(runID int64, format string, args ...any) {
	msg := strings.ReplaceAll(fmt.Sprintf(format, args...), "\n", `\n`)
	f.write(fmt.Sprintf("%s run=%d == %s\n", time.Now().UTC().Format("2006-01-02T15:04:05.000Z"), runID, msg))
}

func (f *logFile) write(s string) {
	if f.owner == nil {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.f == nil {
		return
	}
	if f.size > 0 && f.size+int64(len(s)) > f.owner.maxBytes {
		f.rotate()
		if f.f == nil {
			return
		}
	}
	n, _ := f.f.WriteString(s)
	f.size += int64(n)
}

// rotate moves name.log to name.log.1, name.log.1 to .2, ..., drops the
// one past keep, and starts a new name.log.
func (f *logFile) rotate() {
	f.f.Close()
	f.f = nil
	keep := f.owner.keep
	if keep == 0 {
		_ = os.Remove(f.path)
	} else {
		_ = os.Remove(fmt.Sprintf("%s.%d", f.path, keep))
		for i := keep - 1; i >= 1; i-- {
			_ = os.Rename(fmt.Sprintf("%s.%d", f.path, i), fmt.Sprintf("%s.%d", f.path, i+1))
		}
		_ = os.Rename(f.path, f.path+".1")
	}
	_ = f.reopen() // on failure the rest of the run is not logged
}
