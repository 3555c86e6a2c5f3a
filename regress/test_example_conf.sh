#!/bin/bash
# run.sh: plain pass only (see regress/run.sh)
# etc/smtpcertd.conf is the commented example of every statement: it must
# use every keyword of parse.y's table and every `limit' name of config.c
# outside comments (only `include' may stay commented out: its file must
# exist), and `smtpcertd -N' (parse only: its files do not exist here) must accept it as it is, with its include
# turned on, and as printed back by -nv.
. "$(dirname "$0")/lib.sh"

EXAMPLE="$TOP/etc/smtpcertd.conf"

# The keywords of the sorted table that lookup() searches.
parse_keywords() {
	awk '/^static const struct keywords keywords\[\] = \{/ { on = 1; next }
	    on && /^\};/ { exit }
	    on { if (match($0, /"[^"]+"/)) print substr($0, RSTART + 1, RLENGTH - 2) }' \
	    "$TOP/common/parse.y"
}

# The words of a config file as the lexer sees them: comments and quoted
# strings dropped, one word a line.  With "comments", the words of the
# comment lines instead.
conf_words() {
	$PY - "$1" "${2:-}" <<'PY'
import re, sys
text = open(sys.argv[1]).read().replace("\\\n", " ")
want_comments = sys.argv[2] == "comments"
for line in text.split("\n"):
    code, comment, i, q = "", "", 0, None
    while i < len(line):
        c = line[i]
        if q:
            if c == "\\" and i + 1 < len(line):
                i += 2
                continue
            if c == q:
                q = None
            code += " "
        elif c in "\"'":
            q = c
            code += " "
        elif c == "#":
            comment = line[i + 1:]
            break
        else:
            code += c
        i += 1
    for w in re.findall(r"[A-Za-z0-9_.$-]+", comment if want_comments else code):
        print(w)
PY
}

test_example_uses_every_keyword() {
	local kws words cwords kw missing="" commented=""
	kws=$(parse_keywords)
	[ "$(echo "$kws" | wc -w)" -gt 50 ] ||
	    { fail "could not extract the keyword table from parse.y"; return 1; }
	words=$(conf_words "$EXAMPLE" | sort -u)
	cwords=$(conf_words "$EXAMPLE" comments | sort -u)
	for kw in $kws; do
		echo "$words" | grep -qxF -- "$kw" && continue
		if [ "$kw" = include ] && echo "$cwords" | grep -qxF include; then
			commented="$commented $kw"
			continue
		fi
		missing="$missing $kw"
	done
	echo "$(echo "$kws" | wc -w) keywords, commented out:${commented:- none}"
	[ -z "$missing" ] ||
	    fail "etc/smtpcertd.conf does not use these keywords:$missing"
}

test_example_uses_every_limit() {
	local limits l missing=""
	limits=$(awk '/config_limit_descs\[\] = \{/ { on = 1; next }
	    on && /^\};/ { exit }
	    on { if (match($0, /\{ *"[^"]+"/)) { s = substr($0, RSTART, RLENGTH); sub(/^\{ *"/, "", s); sub(/"$/, "", s); print s } }' \
	    "$TOP/common/config.c")
	[ "$(echo "$limits" | wc -w)" -gt 3 ] ||
	    { fail "could not extract the limit names from config.c"; return 1; }
	for l in $limits; do
		grep -Eq "^[[:space:]]*limit $l " "$EXAMPLE" || missing="$missing $l"
	done
	[ -z "$missing" ] || fail "etc/smtpcertd.conf sets no limit:$missing"
}

test_example_accepted() {
	"$SMTPCERTD" -N -f "$EXAMPLE" >"$T/out" 2>&1 ||
	    { cat "$T/out"; fail "smtpcertd -n refuses etc/smtpcertd.conf"; return 1; }
	cat "$T/out"
	# Not even a warning: the example must be a sound configuration.
	! grep -qi warning "$T/out" || fail "warnings on the example"
	grep -qx "configuration OK" "$T/out" || fail "no \"configuration OK\""
}

test_example_include_works() {
	local inc
	inc=$(grep -E '^#[[:space:]]*include "/etc/smtpcertd/[^"]+"$' "$EXAMPLE" |
	    sed -E 's/^#[[:space:]]*include "(.*)"$/\1/')
	[ -n "$inc" ] || { fail "no commented include of /etc/smtpcertd/... in the example"; return 1; }
	# The included file, at a test path: a statement the main file
	# references, so that its being read shows.
	printf 'group-policy "from-include" {\n\tsimultaneous-logins 2\n}\n' >"$T/local.conf"
	sed -e "s|^#[[:space:]]*include \"$inc\"\$|include \"$T/local.conf\"|" \
	    -e 's|default group-policy "contractors"|default group-policy "from-include"|' \
	    "$EXAMPLE" >"$T/with-include.conf"
	grep -q "^include \"$T/local.conf\"" "$T/with-include.conf" ||
	    { fail "could not turn the include on"; return 1; }
	"$SMTPCERTD" -Nv -f "$T/with-include.conf" >"$T/printed" 2>"$T/err" ||
	    { cat "$T/err"; fail "example with its include refused"; return 1; }
	grep -q 'group-policy "from-include"' "$T/printed" ||
	    fail "the included file's statements are missing from -nv"
	# Without the file it is an error (which is why it is commented out).
	rm "$T/local.conf"
	if "$SMTPCERTD" -N -f "$T/with-include.conf" >"$T/err" 2>&1; then
		fail "a missing include file was accepted"
	fi
}

test_example_print_roundtrip() {
	"$SMTPCERTD" -Nv -f "$EXAMPLE" >"$T/p1.conf" 2>"$T/err" ||
	    { cat "$T/err"; fail "-nv failed"; return 1; }
	"$SMTPCERTD" -Nv -f "$T/p1.conf" >"$T/p2.conf" 2>"$T/err" ||
	    { cat "$T/err"; fail "the printed example is refused"; return 1; }
	diff -u "$T/p1.conf" "$T/p2.conf" || fail "print, parse, print differs"
}

run_test test_example_uses_every_keyword
run_test test_example_uses_every_limit
run_test test_example_accepted
run_test test_example_include_works
run_test test_example_print_roundtrip
finish
