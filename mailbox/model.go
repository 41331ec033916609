package mailbox

import (
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// ItemType is Zimbra's MailItem.Type code.
type ItemType int8

// Item type codes (Zimbra MailItem.Type; carbonio-mailbox's MailItem.java
// before and after it dropped documents, CO-774).
const (
	TypeUnknown             ItemType = 0
	TypeFolder              ItemType = 1
	TypeSearchFolder        ItemType = 2
	TypeTag                 ItemType = 3
	TypeConversation        ItemType = 4
	TypeMessage             ItemType = 5
	TypeContact             ItemType = 6
	TypeInvite              ItemType = 7 // deprecated in Zimbra
	TypeDocument            ItemType = 8
	TypeNote                ItemType = 9
	TypeFlag                ItemType = 10 // memory-only in Zimbra
	TypeAppointment         ItemType = 11
	TypeVirtualConversation ItemType = 12 // memory-only in Zimbra
	TypeMountpoint          ItemType = 13
	TypeWiki                ItemType = 14 // deprecated in Zimbra
	TypeTask                ItemType = 15
	TypeChat                ItemType = 16
	TypeCalendarGroup       ItemType = 17 // Carbonio; COMMENT in Zimbra and older Carbonio
	TypeLink                ItemType = 18 // Zimbra and older Carbonio
)

var typeNames = map[ItemType]string{
	TypeFolder: "folder", TypeSearchFolder: "search", TypeTag: "tag",
	TypeConversation: "conversation", TypeMessage: "message", TypeContact: "contact",
	TypeInvite: "invite", TypeDocument: "document", TypeNote: "note", TypeFlag: "flag",
	TypeAppointment: "appointment", TypeVirtualConversation: "virtual_conversation",
	TypeMountpoint: "mountpoint", TypeWiki: "wiki", TypeTask: "task", TypeChat: "chat",
	TypeCalendarGroup: "calendar_group", TypeLink: "link",
}

// String is the lower-case name Carbonio's CLI prints ("message", ...).
func (t ItemType) String() string {
	if n, ok := typeNames[t]; ok {
		return n
	}
	return "type" + strconv.Itoa(int(t))
}

// ParseItemType accepts a name ("message", case-insensitive), a code ("5")
// or String's form of a code without a name ("type12").
func ParseItemType(s string) (ItemType, error) {
	s = strings.ToLower(strings.TrimSpace(s))
	for t, n := range typeNames {
		if n == s {
			return t, nil
		}
	}
	if n, err := strconv.Atoi(strings.TrimPrefix(s, "type")); err == nil && n > 0 && n < 128 {
		return ItemType(n), nil
	}
	names := make([]string, 0, len(typeNames))
	for _, n := range typeNames {
		names = append(names, n)
	}
	sort.Strings(names)
	return 0, fmt.Errorf("unknown item type %q (want one of %s)", s, strings.Join(names, ", "))
}

// UnmarshalJSON accepts a code (5) or a name ("message").
func (t *ItemType) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		v, err := ParseItemType(s)
		*t = v
		return err
	}
	var n int
	if err := json.Unmarshal(b, &n); err != nil {
		return fmt.Errorf("item type %s: %w", b, err)
	}
	if n < 0 || n > 127 {
		return fmt.Errorf("item type %d out of range", n)
	}
	*t = ItemType(n)
	return nil
}

// HasContent reports whether items of this type carry a blob.
func (t ItemType) HasContent() bool {
	switch t {
	case TypeFolder, TypeSearchFolder, TypeTag, TypeConversation, TypeFlag,
		TypeVirtualConversation, TypeMountpoint, TypeCalendarGroup, TypeLink:
		return false
	}
	return true
}

// Extension is the file extension for this type's content (without dot).
func (t ItemType) Extension() string {
	switch t {
	case TypeContact:
		return "vcf"
	case TypeAppointment, TypeTask:
		return "ics"
	case TypeDocument:
		return "bin"
	}
	return "eml"
}

// System folder ids (Zimbra Mailbox.ID_FOLDER_*).
const (
	FolderRoot      = 1
	FolderInbox     = 2
	FolderTrash     = 3
	FolderJunk      = 4
	FolderSent      = 5
	FolderDrafts    = 6
	FolderContacts  = 7
	FolderTags      = 8
	FolderCalendar  = 10
	FolderTasks     = 15
	FolderBriefcase = 16
)

// SystemFolderNames names the system folders when a Backup Path holds no
// folder item for them.
var SystemFolderNames = map[int]string{
	FolderRoot: "", FolderInbox: "Inbox", FolderTrash: "Trash", FolderJunk: "Junk",
	FolderSent: "Sent", FolderDrafts: "Drafts", FolderContacts: "Contacts",
	FolderCalendar: "Calendar", FolderTasks: "Tasks", FolderBriefcase: "Briefcase",
	13: "Emailed Contacts", 14: "Chats",
}
