package inplacetest

import (
	"fmt"
	"strings"
)

// Lex splits a command line the way a POSIX shell would, for the subset phoenix emits:
// words made of plain characters, single-quoted parts and backslash-quoted characters, and the operators | && || ;
// & > >> < ( ) and newline between them. Anything a shell would expand or treat
// specially outside quotes ($, `, a lone \, ", globs *?[, a leading ~ or #, {}) is an
// error: it means a value reached the shell unquoted.
func Lex(cmd string) (words, ops []string, err error) {
	var cur strings.Builder
	inWord := false
	flush := func() {
		if inWord {
			words = append(words, cur.String())
			cur.Reset()
			inWord = false
		}
	}
	for i := 0; i < len(cmd); i++ {
		c := cmd[i]
		switch {
		case c == '\'':
			j := strings.IndexByte(cmd[i+1:], '\'')
			if j < 0 {
				return nil, nil, fmt.Errorf("unterminated single quote at byte %d of %q", i, cmd)
			}
			cur.WriteString(cmd[i+1 : i+1+j])
			inWord = true
			i += j + 1
		case c == '\\' && i+1 < len(cmd) && cmd[i+1] != '\n':
			// A backslash quotes the next character (ShellQuote's '\'' for a quote).
			cur.WriteByte(cmd[i+1])
			inWord = true
			i++
		case c == ' ' || c == '\t':
			flush()
		case c == '\n' || c == ';' || c == '(' || c == ')' || c == '<':
			flush()
			ops = append(ops, string(c))
		case c == '|' || c == '&' || c == '>':
			flush()
			op := string(c)
			if i+1 < len(cmd) && (cmd[i+1] == c || c == '>' && cmd[i+1] == '&') {
				op += string(cmd[i+1])
				i++
			}
			ops = append(ops, op)
		case c == '$' || c == '`' || c == '\\' || c == '"' || c == '*' || c == '?' || c == '[' || c == ']' || c == '{' || c == '}' || c == '!':
			return nil, nil, fmt.Errorf("unquoted shell metacharacter %q at byte %d of %q", c, i, cmd)
		case (c == '~' || c == '#') && !inWord:
			return nil, nil, fmt.Errorf("unquoted %q starting a word at byte %d of %q", c, i, cmd)
		case c < 0x20 || c == 0x7f:
			return nil, nil, fmt.Errorf("unquoted control character %q at byte %d of %q", c, i, cmd)
		default:
			cur.WriteByte(c)
			inWord = true
		}
	}
	flush()
	return words, ops, nil
}
