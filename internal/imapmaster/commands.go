package imapmaster

// cmdLexer follows the command stream the client writes, to learn the tag
// of each command it sends: the Watchdog waits until every such tag is
// answered, and only an answer bearing one of them ends a wait (an answer
// to no command sent, or to another command than the one waited for, does
// not). Commands are "tag SP ..." lines; a line ending in "{N}" or "{N+}"
// goes on after N bytes of literal.
type cmdLexer struct {
	mid     bool // inside a command
	inTag   bool
	tagBuf  [maxTag]byte
	tagLen  int
	cur     string // the tag of the command being written
	lit     int64  // literal bytes still to come
	waitLit bool   // a synchronizing literal was announced, none of it written yet
	ann     uint8
	num     int64
	plus    bool
}

// feed lexes p; begun is called with the tag of each command begun in it.
func (c *cmdLexer) feed(p []byte, begun func(tag string)) {
	for i := 0; i < len(p); {
		if c.lit > 0 {
			k := min(int64(len(p)-i), c.lit)
			c.lit -= k
			c.waitLit = false
			i += int(k)
			continue
		}
		b := p[i]
		i++
		if !c.mid {
			c.mid, c.inTag, c.tagLen, c.cur, c.ann = true, true, 0, "", annNone
		}
		if c.inTag {
			switch {
			case isTagChar(b) && c.tagLen < maxTag:
				c.tagBuf[c.tagLen] = b
				c.tagLen++
				continue
			case b == ' ' && c.tagLen > 0:
				c.inTag = false
				c.cur = string(c.tagBuf[:c.tagLen])
				begun(c.cur)
				continue
			default: // not a command (a continuation line, say)
				c.inTag = false
			}
		}
		switch {
		case b == '\n':
			if c.ann == annClose || c.ann == annSP || c.ann == annCR {
				c.lit, c.waitLit = c.num, !c.plus && c.num > 0
			} else {
				c.mid = false
			}
			c.ann = annNone
		case b == '{':
			c.ann, c.num, c.plus = annOpen, 0, false
		case b >= '0' && b <= '9' && (c.ann == annOpen || c.ann == annDigits):
			c.ann = annDigits
			if c.num < 1<<50 {
				c.num = c.num*10 + int64(b-'0')
			}
		case b == '+' && c.ann == annDigits:
			c.ann, c.plus = annPlus, true
		case b == '}' && (c.ann == annDigits || c.ann == annPlus):
			c.ann = annClose
		case b == ' ' && c.ann == annClose:
			c.ann = annSP
		case b == '\r' && (c.ann == annClose || c.ann == annSP):
			c.ann = annCR
		default:
			c.ann = annNone
		}
	}
}

// answered notes that the command tagged tag was answered: if it is the
// one being written and it still awaits the server's "+" for a literal,
// the literal will not come (the server refused the command instead).
func (c *cmdLexer) answered(tag string) {
	if c.mid && c.cur == tag && c.waitLit {
		c.mid, c.lit, c.waitLit = false, 0, false
	}
}
