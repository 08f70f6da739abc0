package registry

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// Environment variables and files that configure the registry.
const (
	EnvHome             = "IRIS_HELPER_HOME"
	EnvSuperserverRange = "IRIS_HELPER_SUPERSERVER_RANGE"
	EnvWebRange         = "IRIS_HELPER_WEB_RANGE"
	EnvExtraRange       = "IRIS_HELPER_EXTRA_RANGE"
	ConfigFileName      = "config.json"
	FileName            = "registry.json"
	LockFileName        = "registry.lock"
)

// Default ranges: slot i is (1972+i, 52773+i).
const (
	DefaultSuperserverLo, DefaultSuperserverHi = 1972, 1981
	DefaultWebLo, DefaultWebHi                 = 52773, 52782
)

// Default extra range: the host ports of a compose project's other published container ports
// (see docs/registry.md "Extra ports" for why 12000-12999).
const DefaultExtraLo, DefaultExtraHi = 12000, 12999

// Range is an inclusive range of TCP ports.
type Range struct{ Lo, Hi int }

// Len is the number of ports in the range.
func (r Range) Len() int { return r.Hi - r.Lo + 1 }

// Contains reports whether port lies in the range.
func (r Range) Contains(port int) bool { return port >= r.Lo && port <= r.Hi }

func (r Range) String() string { return fmt.Sprintf("%d-%d", r.Lo, r.Hi) }

// ParseRange parses "lo-hi" (inclusive, 1 <= lo <= hi <= 65535).
func ParseRange(s string) (Range, error) {
	lo, hi, ok := strings.Cut(strings.TrimSpace(s), "-")
	if !ok {
		return Range{}, errors.New(`expected "lo-hi"`)
	}
	l, err1 := strconv.Atoi(strings.TrimSpace(lo))
	h, err2 := strconv.Atoi(strings.TrimSpace(hi))
	if err1 != nil || err2 != nil {
		return Range{}, errors.New(`expected two port numbers as "lo-hi"`)
	}
	r := Range{Lo: l, Hi: h}
	return r, r.validate()
}

func (r Range) validate() error {
	switch {
	case r.Lo < 1 || r.Hi > 65535:
		return errors.New("ports must lie between 1 and 65535")
	case r.Lo > r.Hi:
		return errors.New("lo is greater than hi")
	}
	return nil
}

// fileConfig is $IRIS_HELPER_HOME/config.json. Unknown fields are ignored (a newer iris-helper may add some).
type fileConfig struct {
	SuperserverRange string `json:"superserverRange,omitempty"`
	WebRange         string `json:"webRange,omitempty"`
	ExtraRange       string `json:"extraRange,omitempty"`
}

// DefaultHome returns $IRIS_HELPER_HOME, or ~/.iris-helper.
func DefaultHome() (string, error) {
	if h := os.Getenv(EnvHome); h != "" {
		return filepath.Abs(h)
	}
	u, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("find the home folder for the registry: %w; set %s", err, EnvHome)
	}
	return filepath.Join(u, ".iris-helper"), nil
}

// resolveRanges applies the precedence Options > environment > config.json > defaults, per range.
func resolveRanges(home string, ss, web, extra *Range) (Range, Range, Range, error) {
	var cfg fileConfig
	cfgPath := filepath.Join(home, ConfigFileName)
	// config.json is read only when it may decide a range (so that a home whose files cannot be read
	// fails where the registry itself is read, with the fix).
	if (ss == nil && os.Getenv(EnvSuperserverRange) == "") || (web == nil && os.Getenv(EnvWebRange) == "") ||
		(extra == nil && os.Getenv(EnvExtraRange) == "") {
		data, err := os.ReadFile(cfgPath)
		switch {
		case errors.Is(err, fs.ErrNotExist):
		case err != nil:
			if ae := accessError(OpConfig, cfgPath, err); ae != nil {
				return Range{}, Range{}, Range{}, ae
			}
			return Range{}, Range{}, Range{}, fmt.Errorf("read %s: %w; fix its permissions or delete it", cfgPath, err)
		default:
			if err := json.Unmarshal(data, &cfg); err != nil {
				return Range{}, Range{}, Range{}, fmt.Errorf("parse %s: %w; it must look like "+
					`{"superserverRange":"1972-1981","webRange":"52773-52782","extraRange":"12000-12999"}; fix or delete it`, cfgPath, err)
			}
		}
	}
	pick := func(opt *Range, env, fromFile, fileKey string, def Range) (Range, string, error) {
		if opt != nil {
			if err := opt.validate(); err != nil {
				return Range{}, "", &RangeError{Source: "Options", Value: opt.String(), Reason: err.Error()}
			}
			return *opt, "Options", nil
		}
		if v := os.Getenv(env); v != "" {
			r, err := ParseRange(v)
			if err != nil {
				return Range{}, "", &RangeError{Source: "$" + env, Value: v, Reason: err.Error()}
			}
			return r, "$" + env, nil
		}
		if fromFile != "" {
			src := fmt.Sprintf("%q in %s", fileKey, cfgPath)
			r, err := ParseRange(fromFile)
			if err != nil {
				return Range{}, "", &RangeError{Source: src, Value: fromFile, Reason: err.Error()}
			}
			return r, src, nil
		}
		return def, "the defaults", nil
	}
	s, sSrc, err := pick(ss, EnvSuperserverRange, cfg.SuperserverRange, "superserverRange", Range{DefaultSuperserverLo, DefaultSuperserverHi})
	if err != nil {
		return Range{}, Range{}, Range{}, err
	}
	w, wSrc, err := pick(web, EnvWebRange, cfg.WebRange, "webRange", Range{DefaultWebLo, DefaultWebHi})
	if err != nil {
		return Range{}, Range{}, Range{}, err
	}
	if s.Len() != w.Len() {
		return Range{}, Range{}, Range{}, &RangeError{Source: sSrc + " and " + wSrc, Value: s.String() + " / " + w.String(),
			Reason: fmt.Sprintf("the superserver range has %d ports but the web range has %d", s.Len(), w.Len())}
	}
	if s.overlaps(w) {
		return Range{}, Range{}, Range{}, &RangeError{Source: sSrc + " and " + wSrc, Value: s.String() + " / " + w.String(),
			Reason: "the superserver and web ranges overlap"}
	}
	x, xSrc, err := pick(extra, EnvExtraRange, cfg.ExtraRange, "extraRange", Range{DefaultExtraLo, DefaultExtraHi})
	if err != nil {
		var re *RangeError
		if errors.As(err, &re) {
			re.Extra = true
		}
		return Range{}, Range{}, Range{}, err
	}
	for _, o := range []struct {
		name, src string
		rng       Range
	}{{"superserver", sSrc, s}, {"web", wSrc, w}} {
		if x.overlaps(o.rng) {
			return Range{}, Range{}, Range{}, &RangeError{Source: xSrc + " and " + o.src, Value: x.String() + " / " + o.rng.String(),
				Reason: "the extra range overlaps the " + o.name + " range", Extra: true}
		}
	}
	return s, w, x, nil
}

func (r Range) overlaps(o Range) bool { return r.Lo <= o.Hi && o.Lo <= r.Hi }

func sortedPorts(m map[int]string) []int {
	ports := make([]int, 0, len(m))
	for p := range m {
		ports = append(ports, p)
	}
	sort.Ints(ports)
	return ports
}
