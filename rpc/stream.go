package rpc

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"sync"
)

// MaxBodySize is the largest frame body the stream accepts (16 MiB). A larger frame is skipped
// and answered with CodeInvalidRequest.
const MaxBodySize = 16 << 20

// maxHeaderLine caps one header line; a longer line is treated as garbage.
const maxHeaderLine = 4096

// Stream is the helper's jsonrpc2.ObjectStream: LSP base-protocol framing
// ("Content-Length: N\r\n\r\n" + N bytes of JSON) that survives bad input.
//
// Unlike the library's buffered stream, which closes the connection on any read error, Stream
// answers what it cannot use and keeps reading:
//   - bytes that are not a header (garbage between frames) → one -32700 error per garbage run,
//     then it resynchronizes on the next "Content-Length:" header;
//   - a body that is not JSON → -32700 (id null);
//   - JSON that is not a request or response object → -32600 (with the request's id when it has one);
//   - a frame without Content-Length, or one larger than the body cap → -32600; an oversized body is
//     discarded as it streams in, never held in memory.
//
// Only the end of input (io.EOF between frames, io.ErrUnexpectedEOF inside one) and read errors
// end ReadObject with an error, which closes the jsonrpc2 connection.
type Stream struct {
	r       *bufio.Reader
	maxBody int64
	logger  *slog.Logger

	wmu    sync.Mutex // serializes frames on w
	w      *bufio.Writer
	closer io.Closer
}

// StreamOptions tunes a Stream. The zero value is ready to use.
type StreamOptions struct {
	MaxBody int64        // 0 = MaxBodySize
	Logger  *slog.Logger // nil = discard
}

// NewStream reads frames from r and writes frames to w; Close closes closer (may be nil).
func NewStream(r io.Reader, w io.Writer, closer io.Closer, opts StreamOptions) *Stream {
	if opts.MaxBody <= 0 {
		opts.MaxBody = MaxBodySize
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &Stream{
		r:       bufio.NewReaderSize(r, 64<<10),
		maxBody: opts.MaxBody,
		logger:  opts.Logger,
		w:       bufio.NewWriter(w),
		closer:  closer,
	}
}

// WriteObject writes obj as one frame.
func (s *Stream) WriteObject(obj any) error {
	data, err := json.Marshal(obj)
	if err != nil {
		return fmt.Errorf("encode frame: %w", err)
	}
	return s.writeFrame(data)
}

func (s *Stream) writeFrame(data []byte) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if _, err := fmt.Fprintf(s.w, "Content-Length: %d\r\n\r\n", len(data)); err != nil {
		return err
	}
	if _, err := s.w.Write(data); err != nil {
		return err
	}
	return s.w.Flush()
}

// Close closes the underlying closer.
func (s *Stream) Close() error {
	if s.closer == nil {
		return nil
	}
	return s.closer.Close()
}

// ReadObject reads the next usable frame and decodes it into v. Unusable frames are answered
// on the stream (see Stream) and skipped.
func (s *Stream) ReadObject(v any) error {
	for {
		body, err := s.readFrame()
		if err != nil {
			return err
		}
		if body == nil {
			continue // an unusable frame, already answered
		}
		if !json.Valid(body) {
			s.replyError(nil, CodeParseError, "parse error: the message body is not valid JSON")
			continue
		}
		if err := json.Unmarshal(body, v); err != nil {
			id, isResponse := peekID(body)
			if isResponse {
				// Never answer a response; drop it.
				s.logger.Warn("dropped malformed response from client", "err", err)
				continue
			}
			s.replyError(id, CodeInvalidRequest, "invalid request: "+strings.TrimPrefix(err.Error(), "jsonrpc2: "))
			continue
		}
		return nil
	}
}

// readFrame returns the next frame's body; (nil, nil) when the frame was unusable and has been
// answered; an error only at the end of input.
func (s *Stream) readFrame() ([]byte, error) {
	length := int64(-1)
	inHeader := false // a header line was read for this frame
	garbage := false  // inside a garbage run already reported
	for {
		line, tooLong, err := s.readLine()
		if err != nil {
			if errors.Is(err, io.EOF) && (inHeader || len(line) > 0) {
				return nil, io.ErrUnexpectedEOF
			}
			return nil, err
		}
		if tooLong {
			if !garbage {
				garbage = true
				s.replyError(nil, CodeParseError, "parse error: expected a Content-Length header, got a line longer than 4096 bytes")
			}
			inHeader, length = false, -1
			continue
		}
		if len(line) == 0 {
			if !inHeader {
				continue // blank lines between frames are harmless
			}
			break
		}
		name, value, ok := cutHeader(line)
		if !ok {
			// Garbage. A header glued to its end ("...}Content-Length: 12") resynchronizes at once.
			if i := indexFold(line, "content-length:"); i > 0 {
				name, value, ok = cutHeader(line[i:])
			}
			if !garbage {
				garbage = true
				s.replyError(nil, CodeParseError, "parse error: expected a Content-Length header; skipping to the next frame")
			}
			if !ok {
				inHeader, length = false, -1
				continue
			}
		}
		inHeader = true
		if strings.EqualFold(name, "Content-Length") {
			n, err := strconv.ParseInt(value, 10, 64)
			if err != nil || n < 0 {
				s.replyError(nil, CodeParseError, fmt.Sprintf("parse error: bad Content-Length %q; skipping to the next frame", value))
				garbage, inHeader, length = true, false, -1
				continue
			}
			length = n
		}
	}
	switch {
	case length < 0:
		s.replyError(nil, CodeInvalidRequest, "invalid request: frame has no Content-Length header")
		return nil, nil
	case length > s.maxBody:
		s.replyError(nil, CodeInvalidRequest, fmt.Sprintf("invalid request: message of %d bytes exceeds the %d-byte limit; skipped", length, s.maxBody))
		if _, err := io.CopyN(io.Discard, s.r, length); err != nil {
			return nil, io.ErrUnexpectedEOF
		}
		return nil, nil
	case length == 0:
		s.replyError(nil, CodeParseError, "parse error: empty message body")
		return nil, nil
	}
	body := make([]byte, length)
	if _, err := io.ReadFull(s.r, body); err != nil {
		return nil, io.ErrUnexpectedEOF
	}
	return body, nil
}

// readLine reads one line without its "\n" or "\r\n". tooLong reports a line longer than
// maxHeaderLine, which has been consumed entirely.
func (s *Stream) readLine() (line []byte, tooLong bool, err error) {
	var buf []byte
	for {
		chunk, err := s.r.ReadSlice('\n')
		if len(buf)+len(chunk) > maxHeaderLine+2 {
			tooLong = true
		} else {
			buf = append(buf, chunk...)
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if err != nil {
			if tooLong {
				return nil, true, err
			}
			return buf, false, err
		}
		if tooLong {
			return nil, true, nil
		}
		buf = bytes.TrimSuffix(buf, []byte("\n"))
		buf = bytes.TrimSuffix(buf, []byte("\r"))
		return buf, false, nil
	}
}

// cutHeader splits "Name: value"; ok is false when line is not a header.
func cutHeader(line []byte) (name, value string, ok bool) {
	i := bytes.IndexByte(line, ':')
	if i <= 0 {
		return "", "", false
	}
	for _, c := range line[:i] {
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return "", "", false
		}
	}
	return string(line[:i]), strings.TrimSpace(string(line[i+1:])), true
}

// The fold is ASCII-only and byte-for-byte, so the index is valid in b even when b holds invalid
// UTF-8 (bytes.ToLower would turn each bad byte into a 3-byte U+FFFD and shift every index).
func indexFold(b []byte, lowerNeedle string) int {
	n := len(lowerNeedle)
	for i := 0; i+n <= len(b); i++ {
		j := 0
		for ; j < n; j++ {
			c := b[i+j]
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			if c != lowerNeedle[j] {
				break
			}
		}
		if j == n {
			return i
		}
	}
	return -1
}

// peekID extracts a usable request id from a JSON object that failed to decode as a message.
// isResponse reports an object with "result" or "error" and no "method": a malformed response.
func peekID(body []byte) (id json.RawMessage, isResponse bool) {
	var probe map[string]json.RawMessage
	if json.Unmarshal(body, &probe) != nil {
		return nil, false
	}
	_, hasMethod := probe["method"]
	_, hasResult := probe["result"]
	_, hasError := probe["error"]
	if !hasMethod && (hasResult || hasError) {
		return nil, true
	}
	raw, ok := probe["id"]
	if !ok {
		return nil, false
	}
	var num json.Number
	if json.Unmarshal(raw, &num) == nil {
		if _, err := num.Int64(); err == nil {
			return raw, false
		}
		return nil, false
	}
	var str string
	if json.Unmarshal(raw, &str) == nil {
		return raw, false
	}
	return nil, false
}

// errorResponse is a response the library cannot express: one whose id may be null.
type errorResponse struct {
	JSONRPC string          `json:"jsonrpc"`
	ID      json.RawMessage `json:"id"`
	Error   wireError       `json:"error"`
}

type wireError struct {
	Code    int64           `json:"code"`
	Message string          `json:"message"`
	Data    json.RawMessage `json:"data,omitempty"`
}

// replyError answers an unusable frame; id nil means null.
func (s *Stream) replyError(id json.RawMessage, code int64, msg string) {
	if id == nil {
		id = json.RawMessage("null")
	}
	s.logger.Warn("bad frame from client", "code", code, "err", msg)
	data, err := json.Marshal(errorResponse{JSONRPC: "2.0", ID: id, Error: wireError{Code: code, Message: msg}})
	if err == nil {
		err = s.writeFrame(data)
	}
	if err != nil {
		s.logger.Warn("answer bad frame", "err", err)
	}
}
