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
	"time"

	"github.com/sourcegraph/jsonrpc2"
)

// MaxBodySize is the largest frame body the stream accepts (16 MiB). A larger frame is skipped
// and answered with CodeInvalidRequest.
const MaxBodySize = 16 << 20

// MaxDiscard is the largest Content-Length the stream skips as an oversized frame (1 GiB), reading
// and dropping its body. A larger value is garbage: answered once, and the stream resynchronizes
// on the next header instead of waiting for that many bytes.
const MaxDiscard = 1 << 30

// maxHeaderLine caps one header line; a longer line is treated as garbage.
const maxHeaderLine = 4096

// privateIDBase is where the ids the stream gives requests whose id the library cannot hold
// begin: the library decodes a number id through int64 and keeps it as a uint64, so ids of 2^63
// and more are only ever the wrapped negative ids the stream writes for them (every negative id
// of a client is mapped).
const privateIDBase = 1 << 63

// Stream is the helper's jsonrpc2.ObjectStream: LSP base-protocol framing
// ("Content-Length: N\r\n\r\n" + N bytes of JSON) that survives bad input and a client that stops
// reading.
//
// Unlike the library's buffered stream, which closes the connection on any read error, Stream
// answers what it cannot use and keeps reading:
//   - bytes that are not a header (garbage between frames), a bad or absurd (over 1 GiB)
//     Content-Length → one -32700 error per garbage run, then it resynchronizes on the next
//     "Content-Length:" header;
//   - a body that is not JSON → -32700 (id null);
//   - JSON that is not a request or response object, a request whose "jsonrpc" is not "2.0" or
//     whose id is null → -32600 (with the request's id when it has one);
//   - a frame without Content-Length, or one larger than the body cap → -32600; an oversized body is
//     discarded as it streams in, never held in memory.
//
// A request id the library cannot hold (negative, fractional, 2^63 or more: it keeps number ids
// as uint64) is replaced by a private id on the way in and restored on the answer, so the client
// gets its own id back.
//
// Writes go through a bounded queue written by a goroutine: WriteObject waits while the queue is
// full, the stream's own answers (and ReplyNow) never wait — they are dropped while the client
// does not read — so the reader always goes on reading. A write error (EPIPE: the client closed
// its end) or a write blocked for the write timeout ends the output: Broken is closed and every
// later write fails.
//
// Only the end of input (io.EOF between frames, io.ErrUnexpectedEOF inside one) and read errors
// end ReadObject with an error, which closes the jsonrpc2 connection.
type Stream struct {
	r       *bufio.Reader
	maxBody int64
	logger  *slog.Logger
	out     *output

	badFrames int // answered so far (reader only)

	idMu      sync.Mutex
	idSeq     uint64
	privToRaw map[uint64]json.RawMessage // private id → the client's id
	rawToPriv map[string]uint64          // the client's id → its latest private id
}

// StreamOptions tunes a Stream. The zero value is ready to use.
type StreamOptions struct {
	MaxBody      int64         // 0 = MaxBodySize
	Logger       *slog.Logger  // nil = discard
	QueueBytes   int           // bound of the output queue; 0 = DefaultQueueBytes
	WriteTimeout time.Duration // a write blocked this long ends the output; 0 = DefaultWriteTimeout
}

// NewStream reads frames from r and writes frames to w; closer (may be nil) is closed once the
// stream is closed and what was queued has been written.
func NewStream(r io.Reader, w io.Writer, closer io.Closer, opts StreamOptions) *Stream {
	if opts.MaxBody <= 0 {
		opts.MaxBody = MaxBodySize
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.QueueBytes <= 0 {
		opts.QueueBytes = DefaultQueueBytes
	}
	if opts.WriteTimeout <= 0 {
		opts.WriteTimeout = DefaultWriteTimeout
	}
	return &Stream{
		r:         bufio.NewReaderSize(r, 64<<10),
		maxBody:   opts.MaxBody,
		logger:    opts.Logger,
		out:       newOutput(w, closer, opts.QueueBytes, opts.WriteTimeout, opts.Logger),
		privToRaw: map[uint64]json.RawMessage{},
		rawToPriv: map[string]uint64{},
	}
}

// WriteObject queues obj as one frame, waiting while the output queue is full. It fails (with
// ErrStreamClosed) once the stream is closed or its output has failed.
func (s *Stream) WriteObject(obj any) error {
	data, err := json.Marshal(obj)
	if err != nil {
		return fmt.Errorf("encode frame: %w", err)
	}
	data = s.restoreID(data)
	_, err = s.out.put(frameBytes(data), true)
	return err
}

// ReplyNow answers request id with an error without ever waiting: when the output queue is full
// the answer is dropped. It is for the reader's own answers (a request refused at once), which
// must not stop it from reading.
func (s *Stream) ReplyNow(id jsonrpc2.ID, e *jsonrpc2.Error) {
	raw, ok := s.clientID(id)
	if !ok {
		raw, _ = json.Marshal(id)
	}
	var data json.RawMessage
	if e.Data != nil {
		data = *e.Data
	}
	s.send(raw, wireError{Code: e.Code, Message: e.Message, Data: data})
}

func frameBytes(data []byte) []byte {
	f := make([]byte, 0, len(data)+24)
	f = fmt.Appendf(f, "Content-Length: %d\r\n\r\n", len(data))
	return append(f, data...)
}

// Close stops accepting frames; what is queued is still written (Drained is closed when done).
func (s *Stream) Close() error {
	s.out.close()
	return nil
}

// Broken is closed when the output failed: a write error (EPIPE once the client closed its end)
// or a write blocked for the write timeout. Err tells which.
func (s *Stream) Broken() <-chan struct{} { return s.out.broken }

// Err returns why the output failed, or nil.
func (s *Stream) Err() error { return s.out.failure() }

// Drained is closed when the stream's writer has ended: closed and everything queued written, or
// failed.
func (s *Stream) Drained() <-chan struct{} { return s.out.done }

// RequestID returns the library's id for the client's request id raw (the "id" of a
// $/cancelRequest): the private id of the latest request that carried raw when the stream mapped
// it, else raw itself when the library can hold it.
func (s *Stream) RequestID(raw json.RawMessage) (jsonrpc2.ID, bool) {
	raw = bytes.TrimSpace(raw)
	s.idMu.Lock()
	priv, ok := s.rawToPriv[string(raw)]
	s.idMu.Unlock()
	if ok {
		return jsonrpc2.ID{Num: priv}, true
	}
	if len(raw) > 0 && raw[0] != '"' && !holdableNumber(raw) {
		return jsonrpc2.ID{}, false
	}
	var id jsonrpc2.ID
	if err := json.Unmarshal(raw, &id); err != nil {
		return jsonrpc2.ID{}, false
	}
	return id, true
}

// holdableNumber reports whether raw, a JSON number, is an id the library keeps as it is: a
// non-negative integer below 2^63 written without fraction, exponent or leading zero.
func holdableNumber(raw []byte) bool {
	if len(raw) == 0 || len(raw) > 19 || raw[0] == '0' && len(raw) > 1 {
		return false
	}
	for _, c := range raw {
		if c < '0' || c > '9' {
			return false
		}
	}
	_, err := strconv.ParseInt(string(raw), 10, 64)
	return err == nil
}

// mapID gives the client's id raw a private id.
func (s *Stream) mapID(raw json.RawMessage) uint64 {
	s.idMu.Lock()
	defer s.idMu.Unlock()
	s.idSeq++
	priv := privateIDBase + s.idSeq
	s.privToRaw[priv] = append(json.RawMessage(nil), raw...)
	s.rawToPriv[string(raw)] = priv
	return priv
}

// clientID returns (and forgets) the client's id behind a private id.
func (s *Stream) clientID(id jsonrpc2.ID) (json.RawMessage, bool) {
	if id.IsString || id.Num < privateIDBase {
		return nil, false
	}
	s.idMu.Lock()
	defer s.idMu.Unlock()
	raw, ok := s.privToRaw[id.Num]
	if !ok {
		return nil, false
	}
	delete(s.privToRaw, id.Num)
	if s.rawToPriv[string(raw)] == id.Num {
		delete(s.rawToPriv, string(raw))
	}
	return raw, true
}

// restoreID puts the client's id back into a response the library encoded with a private id.
func (s *Stream) restoreID(data []byte) []byte {
	s.idMu.Lock()
	mapped := len(s.privToRaw) > 0
	s.idMu.Unlock()
	if !mapped {
		return data
	}
	// The library encodes a response as {"id":N,...}; its own requests carry small ids.
	const prefix = `{"id":`
	if !bytes.HasPrefix(data, []byte(prefix)) {
		return data
	}
	rest := data[len(prefix):]
	end := bytes.IndexByte(rest, ',')
	if end < 0 {
		return data
	}
	num, err := strconv.ParseUint(string(rest[:end]), 10, 64)
	if err != nil {
		return data
	}
	raw, ok := s.clientID(jsonrpc2.ID{Num: num})
	if !ok {
		return data
	}
	out := make([]byte, 0, len(data)+len(raw))
	out = append(out, prefix...)
	out = append(out, raw...)
	return append(out, rest[end:]...)
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
		body, priv, ok := s.checkRequest(body)
		if !ok {
			continue // an invalid request, already answered
		}
		if err := json.Unmarshal(body, v); err != nil {
			id, isResponse := peekID(body)
			if isResponse {
				// Never answer a response; drop it.
				s.logger.Warn("dropped malformed response from client", "err", err)
				continue
			}
			if priv != 0 {
				id, _ = s.clientID(jsonrpc2.ID{Num: priv})
			}
			s.replyError(id, CodeInvalidRequest, "invalid request: "+strings.TrimPrefix(err.Error(), "jsonrpc2: "))
			continue
		}
		return nil
	}
}

// checkRequest checks what the library does not in a request (or notification) object: that
// "jsonrpc" is "2.0" and that an id, when present, is not null; an invalid request is answered
// (ok false). A number id the library cannot hold is replaced by a private id (priv) in the
// returned body. Anything else is returned as it is, for the library to decode.
func (s *Stream) checkRequest(body []byte) (out []byte, priv uint64, ok bool) {
	trimmed := bytes.TrimLeft(body, " \t\r\n")
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return body, 0, true
	}
	var probe map[string]json.RawMessage
	if json.Unmarshal(body, &probe) != nil {
		return body, 0, true
	}
	if _, isRequest := probe["method"]; !isRequest {
		return body, 0, true // a response (or neither): the library decides
	}
	rawID, hasID := probe["id"]
	if version, has := probe["jsonrpc"]; !has || string(version) != `"2.0"` {
		got := "nothing"
		if has {
			got = string(version)
		}
		s.replyError(usableID(rawID), CodeInvalidRequest, fmt.Sprintf(`invalid request: "jsonrpc" must be "2.0", got %s`, got))
		return nil, 0, false
	}
	if !hasID || len(rawID) == 0 || rawID[0] == '"' || holdableNumber(rawID) {
		return body, 0, true
	}
	if string(rawID) == "null" {
		s.replyError(nil, CodeInvalidRequest, `invalid request: "id" is null; give a request a number or string id, or no "id" for a notification`)
		return nil, 0, false
	}
	if usableID(rawID) == nil {
		return body, 0, true // an object, array or boolean: the library refuses it
	}
	priv = s.mapID(rawID)
	// Written as the negative int64 it is: the library decodes ids through int64 (a negative one
	// wraps to the uint64 priv), and never sees a client's negative id, all of which are mapped.
	probe["id"] = json.RawMessage(strconv.FormatInt(int64(priv), 10))
	out, err := json.Marshal(probe)
	if err != nil { // cannot happen: every value came from valid JSON
		s.clientID(jsonrpc2.ID{Num: priv})
		return body, 0, true
	}
	return out, priv, true
}

// usableID returns raw when it is an id that can be echoed (a number or a string), else nil (null).
func usableID(raw json.RawMessage) json.RawMessage {
	if len(raw) == 0 {
		return nil
	}
	if raw[0] == '"' || raw[0] == '-' || raw[0] >= '0' && raw[0] <= '9' {
		return raw
	}
	return nil
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
			if n > MaxDiscard {
				// Waiting for that many bytes would make the helper deaf for the session.
				s.replyError(nil, CodeParseError, fmt.Sprintf("parse error: Content-Length %d is over the %d-byte limit of a skipped frame; skipping to the next frame", n, int64(MaxDiscard)))
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
	return usableID(probe["id"]), false
}

// errorResponse is a response the library cannot express: one whose id may be null or be a
// number it cannot hold.
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
	// Logged for the first ten, then every thousandth: a flood of garbage must not make the
	// reader wait on a log the client does not read either.
	s.badFrames++
	if s.badFrames <= 10 || s.badFrames%1000 == 0 {
		s.logger.Warn("bad frame from client", "code", code, "err", msg, "badFrames", s.badFrames)
	}
	s.send(id, wireError{Code: code, Message: msg})
}

// send queues an error response without waiting (see ReplyNow); id nil means null.
func (s *Stream) send(id json.RawMessage, e wireError) {
	if id == nil {
		id = json.RawMessage("null")
	}
	data, err := json.Marshal(errorResponse{JSONRPC: "2.0", ID: id, Error: e})
	if err == nil {
		_, err = s.out.put(frameBytes(data), false)
	}
	if err != nil && !errors.Is(err, ErrStreamClosed) {
		s.logger.Warn("answer bad frame", "err", err)
	}
}
