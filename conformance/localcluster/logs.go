package localcluster

import (
	"bytes"
	"io"
	"sync"
	"time"
)

// maxLogLines bounds what is kept of one container's output in memory (the
// whole of it is also in the pod's folder).
const maxLogLines = 20000

type logLine struct {
	at   time.Time
	text string
}

// logBuffer keeps a container's output as timestamped lines, as a
// container runtime's log file does, so that sinceTime can be honoured.
// It is an io.Writer for the process's stdout and stderr; a copy of every
// line goes to file.
type logBuffer struct {
	mu      sync.Mutex
	lines   []logLine
	partial []byte
	file    io.Writer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.file != nil {
		_, _ = b.file.Write(p)
	}
	data := append(b.partial, p...)
	now := time.Now()
	for {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			break
		}
		b.lines = append(b.lines, logLine{at: now, text: string(data[:i])})
		data = data[i+1:]
	}
	b.partial = append([]byte(nil), data...)
	if len(b.lines) > maxLogLines {
		b.lines = append([]logLine(nil), b.lines[len(b.lines)-maxLogLines:]...)
	}
	return len(p), nil
}

// since returns the lines written at or after t (all of them for a zero t).
func (b *logBuffer) since(t time.Time) []logLine {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []logLine
	for _, l := range b.lines {
		if !l.at.Before(t) {
			out = append(out, l)
		}
	}
	return out
}
