package kinds

import (
	"fmt"
	"strings"
)

// sqlToken is a word (upper-cased) or one of "(", ";" of a statement,
// outside its strings, quoted names and comments.
type sqlToken string

// scanSQL returns the tokens of stmt as the driver's server would read
// it: what a dialect treats as a comment is skipped, what it may execute
// (MySQL's /*! ... */) is kept. Where the dialects differ, the reading
// that shows more words is taken, so a check can only be stricter.
func scanSQL(stmt, driver string) []sqlToken {
	mysql := driver == "mysql"
	var toks []sqlToken
	s := stmt
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '\'' || c == '"' || c == '`':
			i = skipQuoted(s, i, c, mysql && c != '`')
		case c == '[' && !mysql: // SQLite's [name]
			if j := strings.IndexByte(s[i:], ']'); j >= 0 {
				i += j + 1
			} else {
				i = len(s)
			}
		case c == '-' && strings.HasPrefix(s[i:], "--") && (i+2 == len(s) || strings.IndexByte(" \t\r\n", s[i+2]) >= 0),
			c == '#' && mysql:
			if j := strings.IndexByte(s[i:], '\n'); j >= 0 {
				i += j + 1
			} else {
				i = len(s)
			}
		case c == '/' && strings.HasPrefix(s[i:], "/*"):
			if mysql && len(s) > i+2 && (s[i+2] == '!' || s[i+2] == '+') {
				i += 3 // executable comment: its body is read as code
				continue
			}
			if j := strings.Index(s[i+2:], "*/"); j >= 0 {
				i += j + 4
			} else {
				i = len(s)
			}
		case c == '(' || c == ';':
			toks = append(toks, sqlToken(c))
			i++
		case isWordByte(c):
			j := i
			for j < len(s) && isWordByte(s[j]) {
				j++
			}
			toks = append(toks, sqlToken(strings.ToUpper(s[i:j])))
			i = j
		default:
			i++
		}
	}
	return toks
}

func isWordByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '$' || c >= 0x80
}

// skipQuoted returns the index after the quoted run starting at i. A
// doubled quote stays inside; with backslash, so does an escaped one.
func skipQuoted(s string, i int, q byte, backslash bool) int {
	for j := i + 1; j < len(s); j++ {
		switch {
		case backslash && s[j] == '\\':
			j++
		case s[j] == q && j+1 < len(s) && s[j+1] == q:
			j++
		case s[j] == q:
			return j + 1
		}
	}
	return len(s)
}

// checkOneStatement refuses a second statement after a ";" in the extra
// key key.
func checkOneStatement(toks []sqlToken, key string) error {
	for i, t := range toks {
		if t == ";" && i < len(toks)-1 {
			for _, rest := range toks[i+1:] {
				if rest != ";" {
					return fmt.Errorf("%w: key %q: one statement only, found %s after \";\"", ErrBadExtra, key, rest)
				}
			}
		}
	}
	return nil
}

// readFirst are the words a read-only statement may start with.
var readFirst = map[sqlToken]bool{"SELECT": true, "SHOW": true, "DESCRIBE": true, "DESC": true, "EXPLAIN": true, "WITH": true, "VALUES": true, "TABLE": true}

// writeWords are refused anywhere in a read-only statement: they write,
// lock, change the session or leave the transaction. INSERT and REPLACE
// followed by "(" are MySQL string functions, and allowed.
var writeWords = map[sqlToken]bool{
	"INSERT": true, "UPDATE": true, "DELETE": true, "REPLACE": true, "MERGE": true, "UPSERT": true,
	"CREATE": true, "ALTER": true, "DROP": true, "TRUNCATE": true, "RENAME": true,
	"GRANT": true, "REVOKE": true, "LOAD": true, "CALL": true, "HANDLER": true, "LOCK": true, "UNLOCK": true,
	"SET": true, "DO": true, "INTO": true, "OUTFILE": true, "DUMPFILE": true,
	"ATTACH": true, "DETACH": true, "PRAGMA": true, "VACUUM": true, "REINDEX": true, "ANALYZE": true,
	"OPTIMIZE": true, "REPAIR": true, "FLUSH": true, "KILL": true, "RESET": true, "PURGE": true,
	"SHUTDOWN": true, "INSTALL": true, "UNINSTALL": true, "IMPORT": true,
	"BEGIN": true, "COMMIT": true, "ROLLBACK": true, "SAVEPOINT": true, "RELEASE": true, "START": true,
	"XA": true, "PREPARE": true, "EXECUTE": true, "DEALLOCATE": true,
}

// checkReadOnly refuses a statement (the extra key key) that may write.
// It is conservative: a word such as SET or INTO anywhere outside strings
// refuses the statement, even where it would not write.
func checkReadOnly(toks []sqlToken, key, datasource string) error {
	var words []sqlToken
	for _, t := range toks {
		if t != "(" && t != ";" {
			words = append(words, t)
		}
	}
	if len(words) == 0 {
		return fmt.Errorf("%w: key %q is empty", ErrBadExtra, key)
	}
	if !readFirst[words[0]] {
		return fmt.Errorf("%w %q: a statement starting with %s may write; it takes SELECT, SHOW, DESCRIBE, EXPLAIN, WITH, VALUES or TABLE", ErrReadOnly, datasource, words[0])
	}
	for i, t := range toks {
		if !writeWords[t] || (t == "INSERT" || t == "REPLACE") && i+1 < len(toks) && toks[i+1] == "(" {
			continue
		}
		return fmt.Errorf("%w %q: the statement contains %s", ErrReadOnly, datasource, t)
	}
	return nil
}

// isQuery reports whether a statement returns rows to be read rather
// than a count of rows affected.
func isQuery(toks []sqlToken) bool {
	for _, t := range toks {
		if t == "(" {
			continue
		}
		if !readFirst[t] {
			return false
		}
		break
	}
	for _, t := range toks {
		if t == "INSERT" || t == "UPDATE" || t == "DELETE" || t == "INTO" {
			return false // WITH ... DELETE, SELECT ... INTO
		}
	}
	return len(toks) > 0
}
