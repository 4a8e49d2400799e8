package sieve

// What each command and test accepts (RFC 5228 and the extensions). The
// tables are built by functions, not package variables, so the package keeps
// no mutable state (docs/ARCHITECTURE.md house rules).

// Capabilities lists every capability string this package implements, the
// answer for ManageSieve's SIEVE capability (RFC 5804 1.7).
func Capabilities() []string {
	return []string{
		"fileinto", "reject", "ereject", "envelope", "encoded-character",
		"imap4flags", "copy", "body", "variables", "date", "index", "relational",
		"subaddress", "mailbox", "vacation", "vacation-seconds", "include",
		"editheader", "duplicate", "spamtest", "spamtestplus", "virustest",
		"environment", "enotify", "comparator-i;octet", "comparator-i;ascii-casemap",
		"comparator-i;ascii-numeric",
	}
}

type valKind int

const (
	vNone   valKind = iota // a flag tag without a value
	vString                // one string
	vList                  // a string or a string list
	vNumber
)

type tagSpec struct {
	val   valKind
	group string // tags in one group exclude each other
	cap   string // capability the tag needs ("" = none beyond the command's)
}

type spec struct {
	cap      string // capability the command or test needs ("" = RFC 5228 core)
	tags     map[string]tagSpec
	args     []valKind // positional arguments
	optFront int       // how many leading positional arguments may be left out
	optBack  int       // how many trailing positional arguments may be left out
	tests    int       // 0: none, 1: one test, 2: a test list
	block    bool
	test     bool // a test, not a command
	matching bool // has COMPARATOR and MATCH-TYPE (RFC 5228 2.7)
}

func tags(kv ...any) map[string]tagSpec {
	m := map[string]tagSpec{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i].(string)] = kv[i+1].(tagSpec)
	}
	return m
}

// addMatching adds COMPARATOR and MATCH-TYPE (RFC 5228 2.7.1, 2.7.3) and the
// relational match types (RFC 5231 4).
func addMatching(m map[string]tagSpec) map[string]tagSpec {
	m["comparator"] = tagSpec{val: vString, group: "comparator"}
	m["is"] = tagSpec{group: "match"}
	m["contains"] = tagSpec{group: "match"}
	m["matches"] = tagSpec{group: "match"}
	m["count"] = tagSpec{val: vString, group: "match", cap: "relational"}
	m["value"] = tagSpec{val: vString, group: "match", cap: "relational"}
	return m
}

// addAddressPart adds ADDRESS-PART (RFC 5228 2.7.4, RFC 5233 4).
func addAddressPart(m map[string]tagSpec) map[string]tagSpec {
	m["all"] = tagSpec{group: "addresspart"}
	m["localpart"] = tagSpec{group: "addresspart"}
	m["domain"] = tagSpec{group: "addresspart"}
	m["user"] = tagSpec{group: "addresspart", cap: "subaddress"}
	m["detail"] = tagSpec{group: "addresspart", cap: "subaddress"}
	return m
}

// addIndex adds :index and :last (RFC 5260 6).
func addIndex(m map[string]tagSpec) map[string]tagSpec {
	m["index"] = tagSpec{val: vNumber, group: "index", cap: "index"}
	m["last"] = tagSpec{group: "last", cap: "index"}
	return m
}

func commandSpec(name string) (spec, bool) {
	switch name {
	case "require":
		return spec{args: []valKind{vList}}, true
	case "if", "elsif":
		return spec{tests: 1, block: true}, true
	case "else":
		return spec{block: true}, true
	case "stop", "discard":
		return spec{}, true
	case "keep":
		return spec{tags: tags("flags", tagSpec{val: vList, cap: "imap4flags"})}, true
	case "fileinto":
		return spec{cap: "fileinto", args: []valKind{vString}, tags: tags(
			"copy", tagSpec{cap: "copy"},
			"flags", tagSpec{val: vList, cap: "imap4flags"},
			"create", tagSpec{cap: "mailbox"})}, true
	case "redirect":
		return spec{args: []valKind{vString}, tags: tags("copy", tagSpec{cap: "copy"})}, true
	case "reject", "ereject":
		return spec{cap: name, args: []valKind{vString}}, true
	case "setflag", "addflag", "removeflag":
		return spec{cap: "imap4flags", args: []valKind{vString, vList}, optFront: 1}, true
	case "set":
		return spec{cap: "variables", args: []valKind{vString, vString}, tags: tags(
			"lower", tagSpec{group: "case"}, "upper", tagSpec{group: "case"},
			"lowerfirst", tagSpec{group: "casefirst"}, "upperfirst", tagSpec{group: "casefirst"},
			"quotewildcard", tagSpec{group: "quote"}, "length", tagSpec{group: "length"},
			"encodeurl", tagSpec{group: "encodeurl", cap: "enotify"})}, true
	case "notify":
		return spec{cap: "enotify", args: []valKind{vString}, tags: tags(
			"from", tagSpec{val: vString}, "importance", tagSpec{val: vString},
			"options", tagSpec{val: vList}, "message", tagSpec{val: vString})}, true
	case "vacation":
		return spec{cap: "vacation", args: []valKind{vString}, tags: tags(
			"days", tagSpec{val: vNumber, group: "period"},
			"seconds", tagSpec{val: vNumber, group: "period", cap: "vacation-seconds"},
			"subject", tagSpec{val: vString},
			"from", tagSpec{val: vString},
			"addresses", tagSpec{val: vList},
			"mime", tagSpec{},
			"handle", tagSpec{val: vString})}, true
	case "include":
		return spec{cap: "include", args: []valKind{vString}, tags: tags(
			"personal", tagSpec{group: "location"}, "global", tagSpec{group: "location"},
			"once", tagSpec{}, "optional", tagSpec{})}, true
	case "return":
		return spec{cap: "include"}, true
	case "global":
		return spec{cap: "include", args: []valKind{vList}}, true
	case "addheader":
		return spec{cap: "editheader", args: []valKind{vString, vString},
			tags: tags("last", tagSpec{})}, true
	case "deleteheader":
		return spec{cap: "editheader", args: []valKind{vString, vList}, optBack: 1, matching: true,
			tags: addMatching(tags("index", tagSpec{val: vNumber}, "last", tagSpec{}))}, true
	}
	return spec{}, false
}

func testSpec(name string) (spec, bool) {
	s, ok := testSpec0(name)
	s.test = true
	return s, ok
}

func testSpec0(name string) (spec, bool) {
	switch name {
	case "true", "false":
		return spec{}, true
	case "not":
		return spec{tests: 1}, true
	case "allof", "anyof":
		return spec{tests: 2}, true
	case "exists":
		return spec{args: []valKind{vList}}, true
	case "size":
		return spec{args: []valKind{vNumber}, tags: tags(
			"over", tagSpec{group: "size"}, "under", tagSpec{group: "size"})}, true
	case "header":
		return spec{args: []valKind{vList, vList}, matching: true, tags: addIndex(addMatching(tags()))}, true
	case "address":
		return spec{args: []valKind{vList, vList}, matching: true,
			tags: addIndex(addAddressPart(addMatching(tags())))}, true
	case "envelope":
		return spec{cap: "envelope", args: []valKind{vList, vList}, matching: true,
			tags: addAddressPart(addMatching(tags()))}, true
	case "body":
		return spec{cap: "body", args: []valKind{vList}, matching: true, tags: addMatching(tags(
			"raw", tagSpec{group: "transform"}, "text", tagSpec{group: "transform"},
			"content", tagSpec{val: vList, group: "transform"}))}, true
	case "date":
		return spec{cap: "date", args: []valKind{vString, vString, vList}, matching: true,
			tags: addIndex(addMatching(tags(
				"zone", tagSpec{val: vString, group: "zone"}, "originalzone", tagSpec{group: "zone"})))}, true
	case "currentdate":
		return spec{cap: "date", args: []valKind{vString, vList}, matching: true,
			tags: addMatching(tags("zone", tagSpec{val: vString, group: "zone"}))}, true
	case "string":
		return spec{cap: "variables", args: []valKind{vList, vList}, matching: true, tags: addMatching(tags())}, true
	case "hasflag":
		return spec{cap: "imap4flags", args: []valKind{vList, vList}, optFront: 1, matching: true,
			tags: addMatching(tags())}, true
	case "mailboxexists":
		return spec{cap: "mailbox", args: []valKind{vList}}, true
	case "duplicate":
		return spec{cap: "duplicate", tags: tags(
			"handle", tagSpec{val: vString},
			"header", tagSpec{val: vString, group: "id"}, "uniqueid", tagSpec{val: vString, group: "id"},
			"seconds", tagSpec{val: vNumber}, "last", tagSpec{})}, true
	case "spamtest":
		return spec{cap: "spamtest", args: []valKind{vString}, matching: true,
			tags: addMatching(tags("percent", tagSpec{cap: "spamtestplus"}))}, true
	case "virustest":
		return spec{cap: "virustest", args: []valKind{vString}, matching: true, tags: addMatching(tags())}, true
	case "valid_notify_method":
		return spec{cap: "enotify", args: []valKind{vList}}, true
	case "notify_method_capability":
		return spec{cap: "enotify", args: []valKind{vString, vString, vList}, matching: true, tags: addMatching(tags())}, true
	case "environment":
		return spec{cap: "environment", args: []valKind{vString, vList}, matching: true, tags: addMatching(tags())}, true
	}
	return spec{}, false
}
