#!/bin/bash
# run.sh: plain pass only (see regress/run.sh)
# The manual pages: they must lint cleanly, and they must not fall behind
# the code.
#
#   - each page passes `mandoc -Tlint -Wwarning' (or, without mandoc,
#     `groff -mandoc -ww -z'; with neither the lint tests are skipped);
#   - every keyword of parse.y's keyword table, and every `limit' name of
#     config.c, appears as an Ic/Cm argument in smtpcertd.conf.5;
#   - every command in smtpcertctl/parser.c's token tables has an
#     ".It Cm <command>" entry in smtpcertctl.8;
#   - every option in the getopt() strings of smtpcertd (but the internal
#     -T) and smtpcertctl appears as "Fl x" in its page;
#   - every configuration in the EXAMPLES of smtpcertd.conf.5 is accepted
#     by `smtpcertd -n' (needs a build).
. "$(dirname "$0")/lib.sh"

MAN_D="$TOP/smtpcertd/smtpcertd.8"
MAN_CONF="$TOP/smtpcertd/smtpcertd.conf.5"
MAN_CTL="$TOP/smtpcertctl/smtpcertctl.8"
PARSE_Y="$TOP/common/parse.y"
CONFIG_C="$TOP/common/config.c"
CTL_PARSER="$TOP/smtpcertctl/parser.c"

# Which linter is there?
LINTER=none
if command -v mandoc >/dev/null 2>&1; then
	LINTER=mandoc
elif command -v groff >/dev/null 2>&1; then
	LINTER=groff
fi

# Lint one page; any message (but the database notes mandoc prints when
# its mandoc.db is stale, and Xr lookups) fails.
lint_page() {
	local page=$1 out
	[ -f "$page" ] || { fail "$page: missing"; return 1; }
	case $LINTER in
	mandoc)
		out=$(mandoc -Tlint -Wwarning "$page" 2>&1 |
		    grep -v -e 'mandoc\.db' -e 'referenced manual not found' ||
		    true)
		;;
	groff)
		out=$(groff -mandoc -ww -z "$page" 2>&1 || true)
		;;
	esac
	[ -z "$out" ] || fail "$LINTER on $(basename "$page"):
$out"
}

test_lint_smtpcertd_8() { lint_page "$MAN_D"; }
test_lint_smtpcertd_conf_5() { lint_page "$MAN_CONF"; }
test_lint_smtpcertctl_8() { lint_page "$MAN_CTL"; }

# The words given to Ic and Cm on the macro lines of a page, one a line.
# A Cm/Ic run ends at the next callable macro; delimiters are skipped.
macro_words() {
	awk '
	BEGIN {
		n = split("Ac Ad An Ao Ap Aq Ar At Bc Bo Bq Brc Bro Brq Bsx Bx " \
		    "Cm Dc Do Dq Dv Dx Ec Em En Eo Er Es Ev Fa Fc Fl Fn Fo " \
		    "Fr Ft Fx Ic In It Li Lk Ms Mt Nm No Ns Nx Oc Oo Op Ot " \
		    "Ox Pa Pc Pf Po Pq Qc Ql Qo Qq Sc So Sq St Sx Sy Tn Ux " \
		    "Va Vt Xc Xo Xr D1 Dl", m, " ")
		for (i = 1; i <= n; i++)
			macro[m[i]] = 1
	}
	/^\./ {
		on = 0
		for (i = 1; i <= NF; i++) {
			w = $i
			if (i == 1)
				sub(/^\./, "", w)
			if (w in macro) {
				on = (w == "Cm" || w == "Ic")
				continue
			}
			gsub(/\\&/, "", w)
			if (on && w !~ /^[][(),.;:|!?]+$/ && w != "")
				print w
		}
	}' "$1" | sort -u
}

test_conf_keywords_documented() {
	local kws limits words kw missing=""
	kws=$(awk '/^static const struct keywords keywords\[\] = \{/ { on = 1; next }
	    on && /^\};/ { exit }
	    on { if (match($0, /"[^"]+"/)) print substr($0, RSTART + 1, RLENGTH - 2) }' \
	    "$PARSE_Y")
	[ "$(echo "$kws" | wc -w)" -gt 50 ] ||
	    { fail "could not extract the keyword table from parse.y"; return 1; }
	limits=$(awk '/config_limit_descs\[\] = \{/ { on = 1; next }
	    on && /^\};/ { exit }
	    on { if (match($0, /\{ *"[^"]+"/)) { s = substr($0, RSTART, RLENGTH); sub(/^\{ *"/, "", s); sub(/"$/, "", s); print s } }' \
	    "$CONFIG_C")
	[ "$(echo "$limits" | wc -w)" -gt 3 ] ||
	    { fail "could not extract the limit names from config.c"; return 1; }
	words=$(macro_words "$MAN_CONF")
	for kw in $kws $limits; do
		echo "$words" | grep -qxF -- "$kw" || missing="$missing $kw"
	done
	[ -z "$missing" ] ||
	    fail "smtpcertd.conf.5 does not document (as Ic/Cm):$missing"
}

# Command paths of smtpcertctl's token tables: "show status", "reload"...
ctl_commands() {
	local edges
	# table keyword next-table-or-"-"
	edges=$(awk '
	    /static const struct token[ \t]+t_[A-Za-z0-9_]+\[\][ \t]*=/ {
		cur = $0
		sub(/.*struct token[ \t]+/, "", cur)
		sub(/\[.*/, "", cur)
		next
	    }
	    cur != "" && /^\};/ { cur = ""; next }
	    cur != "" && /\{/ && match($0, /"[^"]+"/) {
		kw = substr($0, RSTART + 1, RLENGTH - 2)
		nxt = "-"
		line = $0
		while (match(line, /t_[A-Za-z0-9_]+/)) {
			nxt = substr(line, RSTART, RLENGTH)
			line = substr(line, RSTART + RLENGTH)
		}
		print cur, kw, nxt
	    }' "$CTL_PARSER")
	_ctl_walk "$edges" t_main "" 0
}

_ctl_walk() {
	local edges=$1 table=$2 prefix=$3 depth=$4 t kw nxt
	[ "$depth" -lt 8 ] || return 0
	while read -r t kw nxt; do
		[ "$t" = "$table" ] || continue
		if [ "$nxt" = "-" ] ||
		    ! echo "$edges" | awk -v t="$nxt" '$1 == t { f = 1 } END { exit !f }'; then
			echo "${prefix}${kw}"
		else
			_ctl_walk "$edges" "$nxt" "${prefix}${kw} " $((depth + 1))
		fi
	done <<<"$edges"
}

# ".It Cm show status Op Ar x" -> "show status"
ctl_documented() {
	awk '/^\.It Cm / {
		s = ""
		for (i = 3; i <= NF; i++) {
			if ($i ~ /^[A-Z][a-z][a-z]?$/) break
			s = s (s == "" ? "" : " ") $i
		}
		print s
	}' "$MAN_CTL"
}

test_ctl_commands_documented() {
	local cmds docs c missing=""
	cmds=$(ctl_commands)
	[ -n "$cmds" ] && echo "$cmds" | grep -qx reload ||
	    { fail "could not extract the commands from smtpcertctl/parser.c"; return 1; }
	docs=$(ctl_documented)
	while read -r c; do
		echo "$docs" | grep -qxF -- "$c" || missing="$missing, $c"
	done <<<"$cmds"
	[ -z "$missing" ] ||
	    fail "smtpcertctl.8 has no \".It Cm ...\" entry for:${missing#,}"
}

# Letters of the getopt() or getopt_long() string in $1 (no colons).
getopt_letters() {
	sed -n 's/.*getopt\(_long\)\{0,1\}(argc, argv, "\([^"]*\)"[,)].*/\2/p' "$1" | head -n 1 |
	    tr -d ':' | fold -w 1
}

check_options() {
	local src=$1 page=$2 skip=$3 letters o missing=""
	letters=$(getopt_letters "$src")
	[ -n "$letters" ] || { fail "no getopt() string in $src"; return 1; }
	for o in $letters; do
		[ "$o" = "$skip" ] && continue
		grep -qE "^\.It Fl $o([[:space:]]|\$)" "$page" ||
		    missing="$missing -$o"
	done
	[ -z "$missing" ] || fail "$(basename "$page") lacks options:$missing"
}

test_smtpcertd_options_documented() {
	check_options "$TOP/smtpcertd/smtpcertd.c" "$MAN_D" T
}

test_smtpcertctl_options_documented() {
	check_options "$TOP/smtpcertctl/smtpcertctl.c" "$MAN_CTL" ""
}

test_conf_examples_parse() {
	local f n=0
	mkdir -p "$T/ex"
	# Every literal display in EXAMPLES, \e turned back into a backslash.
	awk -v dir="$T/ex" '
	    /^\.Sh / { ex = ($2 == "EXAMPLES") }
	    ex && /^\.Bd -literal/ { n++; f = sprintf("%s/%02d.conf", dir, n); inb = 1; next }
	    inb && /^\.Ed/ { inb = 0; close(f); next }
	    inb { gsub(/\\e/, "\\"); gsub(/\\&/, ""); print > f }' "$MAN_CONF"
	for f in "$T"/ex/*.conf; do
		[ -f "$f" ] || continue
		n=$((n + 1))
		if ! "$SMTPCERTD" -N -f "$f" >"$T/out" 2>&1; then
			fail "example $(basename "$f") of smtpcertd.conf.5 is refused:
$(cat "$T/out")
--- the example:
$(cat -n "$f")"
			return 1
		fi
	done
	[ "$n" -ge 4 ] || fail "only $n examples found in smtpcertd.conf.5"
}

if [ "$LINTER" = none ]; then
	echo "ok - test_lint_smtpcertd_8 # skip no mandoc"
	echo "ok - test_lint_smtpcertd_conf_5 # skip no mandoc"
	echo "ok - test_lint_smtpcertctl_8 # skip no mandoc"
else
	run_test test_lint_smtpcertd_8
	run_test test_lint_smtpcertd_conf_5
	run_test test_lint_smtpcertctl_8
fi
run_test test_conf_keywords_documented
run_test test_ctl_commands_documented
run_test test_smtpcertd_options_documented
run_test test_smtpcertctl_options_documented
if [ -x "$SMTPCERTD" ]; then
	run_test test_conf_examples_parse
else
	echo "ok - test_conf_examples_parse # skip $SMTPCERTD not built"
fi
finish
