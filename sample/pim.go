package sample

import (
	"strconv"
	"strings"
	"time"
)

// contactSpec is one vCard.
type contactSpec struct {
	first, last, email, org, title, uid string
	phone                               int
	rev                                 time.Time
	note                                string
}

const icsStamp = "20060102T150405Z"

// vcard renders a vCard 3.0 (RFC 2426) with CRLF line ends.
func vcard(dst []byte, c *contactSpec) []byte {
	fn := title(c.first) + " " + title(c.last)
	lines := [...]string{
		"BEGIN:VCARD",
		"VERSION:3.0",
		"N:" + title(c.last) + ";" + title(c.first) + ";;;",
		"FN:" + fn,
		"ORG:" + c.org,
		"TITLE:" + c.title,
		"EMAIL;TYPE=INTERNET,WORK:" + c.email,
		"TEL;TYPE=WORK,VOICE:+39 02 " + strconv.Itoa(1000+c.phone%9000) + " " + strconv.Itoa(1000+c.phone/9000%9000),
		"ADR;TYPE=WORK:;;Via Roma " + strconv.Itoa(1+c.phone%120) + ";Milano;;20121;Italy",
		"NOTE:" + c.note,
		"UID:" + c.uid,
		"REV:" + c.rev.UTC().Format(icsStamp),
		"END:VCARD",
	}
	for _, l := range lines {
		dst = append(dst, l...)
		dst = append(dst, crlf...)
	}
	return dst
}

// eventSpec is one calendar event.
type eventSpec struct {
	uid, summary, location, description string
	organizer                           addr
	attendees                           []addr
	start                               time.Time
	dur                                 time.Duration
	stamp                               time.Time
	sequence                            int
	weekly                              int // RRULE COUNT when > 0
}

// icalendar renders an iCalendar (RFC 5545) object with one VEVENT.
func icalendar(dst []byte, e *eventSpec) []byte {
	add := func(l string) {
		// Fold at 75 octets as RFC 5545 asks (content here is ASCII).
		for len(l) > 75 {
			dst = append(dst, l[:75]...)
			dst = append(dst, crlf+" "...)
			l = l[75:]
		}
		dst = append(dst, l...)
		dst = append(dst, crlf...)
	}
	add("BEGIN:VCALENDAR")
	add("VERSION:2.0")
	add("PRODID:-//cbfs//sample generator//EN")
	add("METHOD:PUBLISH")
	add("BEGIN:VEVENT")
	add("UID:" + e.uid)
	add("DTSTAMP:" + e.stamp.UTC().Format(icsStamp))
	add("DTSTART:" + e.start.UTC().Format(icsStamp))
	add("DTEND:" + e.start.Add(e.dur).UTC().Format(icsStamp))
	add("SEQUENCE:" + strconv.Itoa(e.sequence))
	add("SUMMARY:" + e.summary)
	add("LOCATION:" + e.location)
	add("DESCRIPTION:" + strings.ReplaceAll(e.description, "\r\n", "\\n"))
	add("ORGANIZER;CN=" + e.organizer.name + ":mailto:" + e.organizer.email)
	for _, a := range e.attendees {
		add("ATTENDEE;CN=" + a.name + ";ROLE=REQ-PARTICIPANT;PARTSTAT=ACCEPTED:mailto:" + a.email)
	}
	if e.weekly > 0 {
		add("RRULE:FREQ=WEEKLY;COUNT=" + strconv.Itoa(e.weekly))
	}
	add("STATUS:CONFIRMED")
	add("END:VEVENT")
	add("END:VCALENDAR")
	return dst
}
