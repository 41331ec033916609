package sample

import (
	"encoding/binary"
	"math/rand/v2"
)

// words is the vocabulary of generated prose: plain business English, so
// that bodies look like mail, compress like mail and can be searched.
var words = [...]string{
	"the", "of", "and", "to", "a", "in", "for", "is", "on", "that", "by", "this",
	"with", "you", "it", "we", "as", "are", "be", "at", "from", "our", "will",
	"can", "all", "please", "thanks", "regards", "meeting", "project", "budget",
	"report", "review", "draft", "proposal", "contract", "invoice", "client",
	"customer", "supplier", "delivery", "schedule", "deadline", "quarter",
	"sales", "forecast", "update", "status", "team", "office", "travel",
	"agenda", "minutes", "call", "conference", "room", "week", "month", "year",
	"today", "tomorrow", "next", "last", "first", "new", "old", "final",
	"version", "document", "attached", "file", "spreadsheet", "presentation",
	"slides", "figures", "numbers", "costs", "price", "order", "shipment",
	"warehouse", "logistics", "support", "ticket", "issue", "problem",
	"solution", "server", "backup", "mailbox", "account", "password",
	"security", "policy", "compliance", "audit", "training", "session",
	"workshop", "feedback", "question", "answer", "request", "approval",
	"signature", "legal", "department", "manager", "director", "board",
	"plan", "strategy", "market", "campaign", "launch", "product", "release",
	"feature", "roadmap", "milestone", "task", "action", "item", "owner",
	"priority", "risk", "quality", "process", "migration", "upgrade",
	"maintenance", "window", "downtime", "network", "storage", "capacity",
	"license", "renewal", "vendor", "partner", "agreement", "terms",
	"payment", "receipt", "expense", "claim", "holiday", "leave", "colleague",
	"welcome", "onboarding", "handover", "summary", "details", "notes",
	"follow", "up", "confirm", "available", "possible", "necessary",
	"important", "urgent", "quick", "short", "long", "clear", "simple",
	"complete", "pending", "open", "closed", "ready", "done", "later",
	"soon", "before", "after", "during", "between", "about", "around",
	"should", "would", "could", "must", "may", "let", "me", "know", "if",
	"have", "has", "had", "not", "there", "their", "them", "they", "which",
	"what", "when", "where", "who", "how", "why", "also", "still", "only",
	"some", "any", "each", "every", "more", "less", "most", "best", "good",
	"great", "fine", "sure", "kind", "send", "share", "check", "discuss",
	"prepare", "organise", "arrange", "book", "cancel", "move", "keep",
}

// textGen is a cheap deterministic source of words: one PCG, eight picks per
// 64-bit draw, no allocation.
type textGen struct {
	pcg   rand.PCG
	bits  uint64
	nbits int
}

func newTextGen(seed uint64) textGen {
	var t textGen
	t.pcg.Seed(seed, seed^0x9e3779b97f4a7c15)
	return t
}

func (t *textGen) byte() byte {
	if t.nbits == 0 {
		t.bits, t.nbits = t.pcg.Uint64(), 8
	}
	b := byte(t.bits)
	t.bits >>= 8
	t.nbits--
	return b
}

func (t *textGen) word() string {
	// Two bytes so that every word of the vocabulary is reachable.
	return words[(int(t.byte())<<8|int(t.byte()))%len(words)]
}

// fill writes pseudo-random bytes into b.
func (t *textGen) fill(b []byte) {
	for len(b) >= 8 {
		binary.LittleEndian.PutUint64(b, t.pcg.Uint64())
		b = b[8:]
	}
	for i := range b {
		b[i] = t.byte()
	}
}

const lineWidth = 72

// appendText appends at least n bytes of prose (whole sentences, lines
// wrapped at 72 columns, paragraphs separated by a blank line, CRLF line
// ends) generated from seed. The same seed always gives the same sequence,
// so a larger n gives a longer text with the same beginning: that is how
// draft edits grow.
func appendText(dst []byte, seed uint64, n int) []byte {
	t := newTextGen(seed)
	start := len(dst)
	col, paraLeft := 0, 0
	for len(dst)-start < n {
		if paraLeft == 0 {
			if len(dst) > start {
				dst = append(dst, "\r\n\r\n"...)
				col = 0
			}
			paraLeft = 3 + int(t.byte()%4)
		}
		nw := 6 + int(t.byte()%11)
		for i := 0; i < nw; i++ {
			w := t.word()
			if col > 0 && col+1+len(w) > lineWidth {
				dst = append(dst, "\r\n"...)
				col = 0
			} else if col > 0 {
				dst = append(dst, ' ')
				col++
			}
			if i == 0 {
				dst = append(dst, w[0]-'a'+'A')
				dst = append(dst, w[1:]...)
			} else {
				dst = append(dst, w...)
			}
			col += len(w)
			switch {
			case i == nw-1:
				dst = append(dst, '.')
				col++
			case t.byte()%16 == 0:
				dst = append(dst, ',')
				col++
			}
		}
		paraLeft--
	}
	return append(dst, "\r\n"...)
}

var firstNames = [...]string{
	"james", "mary", "robert", "patricia", "john", "jennifer", "michael",
	"linda", "david", "elizabeth", "william", "barbara", "richard", "susan",
	"joseph", "jessica", "thomas", "sarah", "charles", "karen", "luca",
	"giulia", "marco", "francesca", "sofia", "matteo", "anna", "paolo",
	"elena", "hans", "greta", "pierre", "claire", "ines", "jorge", "nora",
}

var lastNames = [...]string{
	"smith", "johnson", "williams", "brown", "jones", "garcia", "miller",
	"davis", "rossi", "russo", "ferrari", "esposito", "bianchi", "romano",
	"colombo", "ricci", "marino", "greco", "muller", "schmidt", "schneider",
	"fischer", "weber", "martin", "bernard", "dubois", "thomas", "robert",
	"moreau", "laurent", "lopez", "gonzalez", "wilson", "anderson", "taylor",
	"moore", "jackson", "white", "harris", "clark",
}

// Internal domains (the server's) and external correspondents' domains
// (reserved for documentation and testing: RFC 2606 / RFC 6761).
var (
	domains         = [...]string{"example.com", "example.org", "acme.test"}
	externalDomains = [...]string{"partner.test", "vendor.example.net", "client.example", "university.test", "news.example.net"}
	companies       = [...]string{"Partner Logistics", "Vendor Systems", "Client Holdings", "University Labs", "Daily Newsletter"}
)

// Classes of service.
var cosNames = [...]string{"default", "executives", "external-collaborators"}

var subjects = [...]string{
	"Quarterly budget review",
	"Meeting notes from Monday",
	"Project kickoff: next steps",
	"Invoice %d",
	"Your order #%d has shipped",
	"Updated contract draft",
	"Travel arrangements for the conference",
	"Server maintenance window on Saturday",
	"Sales forecast for next quarter",
	"Welcome to the team!",
	"Action items from the board meeting",
	"Request for approval: expense claim %d",
	"Training session schedule",
	"Security policy update",
	"Customer feedback summary",
	"Weekly status report",
	"Vendor agreement renewal",
	"Roadmap discussion",
	"Lunch on Friday?",
	"Handover notes",
	"Ticket #%d: mailbox quota exceeded",
	"Slides for tomorrow's presentation",
	"Audit preparation checklist",
	"Holiday schedule",
	"Migration plan: version %d",
	"Résumé and cover letter",
	"Überprüfung der Lieferantenverträge",
	"Café meeting notes — Milano office",
	"Reminder: license renewal due",
	"Press release draft",
}

var attachmentKinds = [...]struct{ ext, ctype, magic string }{
	{"pdf", "application/pdf", "%PDF-1.5\n%\xe2\xe3\xcf\xd3\n"},
	{"png", "image/png", "\x89PNG\r\n\x1a\n"},
	{"docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document", "PK\x03\x04"},
	{"xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "PK\x03\x04"},
	{"csv", "text/csv", ""},
	{"txt", "text/plain", ""},
}

var attachmentNames = [...]string{
	"report", "invoice", "minutes", "budget", "slides", "contract", "scan",
	"photo", "agenda", "figures", "export", "notes",
}

var appointmentTitles = [...]string{
	"Weekly sync", "Budget review", "1:1 with manager", "Customer call",
	"Quarterly planning", "Dentist", "Team lunch", "Board meeting",
	"Release retrospective", "Vendor demo", "Training: security awareness",
}

var rooms = [...]string{"Room 1", "Room 2", "Board room", "Online", "Milano office", "Cafeteria"}

func title(s string) string {
	if s == "" {
		return s
	}
	return string(s[0]-'a'+'A') + s[1:]
}
