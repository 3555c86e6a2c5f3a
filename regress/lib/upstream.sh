# The recording upstream SMTP server (regress/lib/upstream.py) for
# integration tests (sourced by regress/lib.sh).
#
#	start_upstream DIR PORT [upstream.py options...]
#		start it on 127.0.0.1:PORT recording into DIR, track_pid it and
#		wait (at most 10 s) until it listens.  Its stdout/stderr go to
#		DIR/upstream.log.  Options: --tls-cert C --tls-key K, --tls-ca,
#		--smtps, --require-tls, --xclient, --smtputf8, --size N,
#		--fail MODE[,MODE], --hostname, --timeout (see upstream.py).
#		It does not connect to check readiness, so conn-1 is the
#		first real client.
#	upstream_fail DIR MODE...   switch failure modes at run time ("none"
#	                        clears them); applies from the next command
#	upstream_wait_msg DIR N [SECS]  wait until message N is stored
#	upstream_msg_count DIR  number of stored messages

start_upstream() {
	local dir=$1 port=$2 pid
	shift 2
	mkdir -p "$dir" || return 1
	rm -f "$dir/upstream.pid"
	"$PY" "$REGRESS/lib/upstream.py" --port "$port" --dir "$dir" "$@" \
	    </dev/null >>"$dir/upstream.log" 2>&1 &
	pid=$!
	track_pid "$pid"
	if ! wait_file "$dir/upstream.pid" 10 || ! kill -0 "$pid" 2>/dev/null; then
		echo "start_upstream: not listening on $port; log:" >&2
		tail -n 20 "$dir/upstream.log" >&2
		return 1
	fi
}

upstream_fail() {
	local dir=$1
	shift
	echo "$*" >"$dir/fail.tmp" && mv "$dir/fail.tmp" "$dir/fail"
}

upstream_wait_msg() {
	wait_file "$1/msg-$2.json" "${3:-10}"
}

upstream_msg_count() {
	local n=0 f
	for f in "$1"/msg-*.json; do
		[ -e "$f" ] && n=$((n + 1))
	done
	echo "$n"
}
