package phrase

import (
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// maxDigits bounds a written number, so that no arithmetic on it overflows.
const maxDigits = 6

// scanner reads a normalised phrase left to right. Parsers try an
// alternative and, when it does not match, put pos back; a parser that has
// matched enough to be sure of the reader's intent and then finds a bad
// value (25点, 2月30日) sets err instead, which stops the whole parse.
type scanner struct {
	phrase string // as given, for messages
	src    string // normalised
	pos    int
	far    int         // the furthest position any alternative read to
	want   expectation // what was missing at far, when known
	err    error

	// weekdayTimes is set once weekdays and then times have been read
	// (每周一早上9点), for the message when another weekday follows.
	weekdayTimes bool

	loc   *time.Location
	ref   time.Time // zero when the caller gave none
	today time.Time // ref's calendar day in loc, as 00:00 UTC
}

type expectation struct {
	what string
	hint hint
}

func newScanner(phrase, src string, loc *time.Location, ref time.Time) *scanner {
	s := &scanner{phrase: phrase, src: src, loc: loc, ref: ref}
	if !ref.IsZero() {
		y, m, d := ref.In(loc).Date()
		s.today = time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
	}
	return s
}

// normalise lowercases text, folds spellings (see normaliser) and
// full-width characters, and collapses white space.
func normalise(text string) string {
	t := strings.Map(halfWidth, text)
	t = normaliser.Replace(strings.ToLower(t)) // A.M. is a.m. before it is am
	t = strings.Join(strings.Fields(t), " ")
	return strings.TrimRight(t, "。.!！ ")
}

func halfWidth(r rune) rune {
	if r >= '！' && r <= '～' { // U+FF01 to U+FF5E mirror ASCII ! to ~
		return r - '！' + '!'
	}
	return r
}

func (s *scanner) space() {
	for s.pos < len(s.src) && s.src[s.pos] == ' ' {
		s.pos++
	}
}

func (s *scanner) atEnd() bool {
	s.space()
	return s.pos == len(s.src)
}

func (s *scanner) rest() string {
	s.space()
	return s.src[s.pos:]
}

func (s *scanner) advance(n int) {
	s.pos += n
	if s.pos > s.far {
		s.far, s.want = s.pos, expectation{}
	}
}

// text is what was read since start.
func (s *scanner) text(start int) string {
	return strings.TrimSpace(s.src[start:s.pos])
}

// expect notes what the phrase lacks at the current position, for the
// error message should nothing else read further. After a hard error it
// does nothing: that error is the message.
func (s *scanner) expect(what string, h hint) {
	if s.err != nil {
		return
	}
	s.space()
	if s.pos > s.far || s.pos == s.far && s.want.what == "" {
		s.far, s.want = s.pos, expectation{what, h}
	}
}

// fail records a hard error and returns false, for "return s.fail(...)".
func (s *scanner) fail(h hint, format string, args ...any) bool {
	if s.err == nil {
		s.err = refuse(s.phrase, h, format, args...)
	}
	return false
}

// lit reads the longest of words found at the current position and returns
// it, or "" when there is none. A word ending in a letter matches only whole.
func (s *scanner) lit(words ...string) string {
	rest := s.rest()
	best := ""
	for _, w := range words {
		if len(w) > len(best) && matches(rest, w) {
			best = w
		}
	}
	s.advance(len(best))
	return best
}

// peek reports whether one of words is next, without reading it.
func (s *scanner) peek(words ...string) bool { return startsWithWord(s.rest(), words...) }

func startsWithWord(text string, words ...string) bool {
	return slices.ContainsFunc(words, func(w string) bool { return matches(text, w) })
}

// lookup reads the longest key of table found at the current position.
func lookup[V any](s *scanner, table map[string]V) (V, bool) {
	rest := s.rest()
	best := ""
	var val V
	for w, v := range table {
		if len(w) > len(best) && matches(rest, w) {
			best, val = w, v
		}
	}
	s.advance(len(best))
	return val, best != ""
}

func matches(rest, w string) bool {
	if !strings.HasPrefix(rest, w) {
		return false
	}
	after := rest[len(w):]
	return after == "" || !isLetter(w[len(w)-1]) || !isLetter(after[0])
}

func isLetter(b byte) bool { return 'a' <= b && b <= 'z' || 'A' <= b && b <= 'Z' }

func isDigit(b byte) bool { return '0' <= b && b <= '9' }

// num reads a number written in digits, in Chinese numerals or as an
// English word.
func (s *scanner) num() (int, bool) {
	rest := s.rest()
	if n, size := digits(rest); size > 0 {
		if size > maxDigits {
			return 0, s.fail(hintAny, "%q is too large a number", rest[:size])
		}
		s.advance(size)
		return n, true
	}
	if n, size, ok := chineseNumber(rest); ok {
		s.advance(size)
		return n, true
	}
	return lookup(s, enNumbers)
}

// digits returns the value of the ASCII digits s starts with and their
// count; the value is meaningful for up to 9 digits.
func digits(s string) (n, size int) {
	for size < len(s) && isDigit(s[size]) {
		if size < 9 {
			n = n*10 + int(s[size]-'0')
		}
		size++
	}
	return n, size
}

// chineseNumber reads the Chinese numeral s starts with: 三, 十五, 二十三,
// 一百零五, and digit by digit 零五 or 二〇二六 (a year).
func chineseNumber(s string) (n, size int, ok bool) {
	var rs []rune
	for _, r := range s {
		_, digit := zhDigits[r]
		_, power := zhPowers[r]
		if !digit && !power || len(rs) == 8 {
			break
		}
		rs = append(rs, r)
		size += utf8.RuneLen(r)
	}
	if len(rs) == 0 {
		return 0, 0, false
	}
	if slices.ContainsFunc(rs, func(r rune) bool { _, p := zhPowers[r]; return p }) {
		n, ok = zhPositional(rs)
	} else {
		n, ok = zhDigitString(rs)
	}
	return n, size, ok
}

func zhPositional(rs []rune) (int, bool) {
	total, digit, last := 0, -1, 10000
	gap := false // a 零 since the last power: 一百零五 is 105, 一百五 (150) is refused
	for _, r := range rs {
		if p, ok := zhPowers[r]; ok {
			if p >= last || digit < 0 && (p != 10 || total != 0) {
				return 0, false
			}
			if digit < 0 {
				digit = 1 // 十五
			}
			total += digit * p
			digit, last, gap = -1, p, false
			continue
		}
		d := zhDigits[r]
		switch {
		case d == 0:
			gap = true
		case digit >= 0:
			return 0, false
		default:
			digit = d
		}
	}
	if digit >= 0 {
		if last > 10 && !gap {
			return 0, false
		}
		total += digit
	}
	return total, true
}

func zhDigitString(rs []rune) (int, bool) {
	n := 0
	for _, r := range rs {
		n = n*10 + zhDigits[r]
	}
	switch {
	case len(rs) == 1, len(rs) == 4: // 五, 二〇二六
		return n, true
	case len(rs) == 2 && zhDigits[rs[0]] == 0: // 零五
		return n, true
	}
	return 0, false
}

// startsWithNumber reports whether s starts with a digit or a Chinese numeral.
func startsWithNumber(s string) bool {
	r, _ := utf8.DecodeRuneInString(s)
	_, digit := zhDigits[r]
	_, power := zhPowers[r]
	return digit || power || r < utf8.RuneSelf && isDigit(byte(r))
}

func firstRune(s string) string {
	_, size := utf8.DecodeRuneInString(s)
	return s[:size]
}

func hasHan(s string) bool {
	return strings.ContainsFunc(s, func(r rune) bool { return unicode.Is(unicode.Han, r) })
}

// sortedSet sorts vals and drops repeats.
func sortedSet(vals []int) []int {
	out := slices.Clone(vals)
	slices.Sort(out)
	return slices.Compact(out)
}
