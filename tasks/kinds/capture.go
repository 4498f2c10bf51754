package kinds

import (
	"bytes"
	"io"
	"sync"
)

// maxLine bounds a line held for the log and for the result/message:
// a longer one is logged in pieces, and its last piece is what counts.
const maxLine = 64 << 10

// capture reads one stream of a process: it keeps the end of the stream
// and its last non-empty line, and logs every line.
type capture struct {
	name  string
	tail  tailBuffer
	total int64
	log   *logFile
	runID int64

	partial []byte // the line being read
	last    []byte // the last complete non-empty line
}

func newCapture(name string, tail int, log *logFile, runID int64) *capture {
	return &capture{name: name, tail: tailBuffer{limit: tail}, log: log, runID: runID}
}

// readFrom reads r to its end (or its first error, as when it is closed).
func (c *capture) readFrom(r io.Reader) {
	buf := make([]byte, 32<<10)
	for {
		n, err := r.Read(buf)
		if n > 0 {
			c.write(buf[:n])
		}
		if err != nil {
			break
		}
	}
	if len(c.partial) > 0 {
		c.line(c.partial)
		c.partial = c.partial[:0]
	}
}

func (c *capture) write(p []byte) {
	c.total += int64(len(p))
	c.tail.Write(p)
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			c.partial = append(c.partial, p...)
			if len(c.partial) >= maxLine {
				c.line(c.partial)
				c.partial = c.partial[:0]
			}
			return
		}
		c.partial = append(c.partial, p[:i]...)
		c.line(c.partial)
		c.partial = c.partial[:0]
		p = p[i+1:]
	}
}

func (c *capture) line(l []byte) {
	l = bytes.TrimRight(l, "\r")
	c.log.line(c.runID, c.name, l)
	if len(bytes.TrimSpace(l)) > 0 {
		c.last = append(c.last[:0], l...)
	}
}

// lastLine is the stream's last non-empty line, cut to the tail size.
func (c *capture) lastLine() string {
	l := c.last
	if len(l) > c.tail.limit {
		l = l[len(l)-c.tail.limit:]
	}
	return string(l)
}

// tailBuffer keeps the last limit bytes written.
type tailBuffer struct {
	mu    sync.Mutex
	limit int
	buf   []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := len(p)
	if len(p) > t.limit {
		p = p[len(p)-t.limit:]
	}
	t.buf = append(t.buf, p...)
	if len(t.buf) > 2*t.limit { // copy down now and then, not on every write
		t.buf = append(t.buf[:0], t.buf[len(t.buf)-t.limit:]...)
	}
	return n, nil
}

func (t *tailBuffer) bytes() []byte {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.buf) > t.limit {
		return bytes.Clone(t.buf[len(t.buf)-t.limit:])
	}
	return bytes.Clone(t.buf)
}
