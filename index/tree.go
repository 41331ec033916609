package index

// FolderTree completes and names a folder tree from folder items chosen by
// the caller (ID, ParentID and Name set; Path ignored): the same rules as
// Folders (system folders added, unsafe names fixed, orphans and cycles hung
// under the root, sibling names made unique, Path computed), for callers
// that pick each folder's state by their own rule (restore's undelete takes
// a folder's last state before it was deleted). Sorted by Path.
func FolderTree(found []Folder) []Folder { return buildTree(found) }
