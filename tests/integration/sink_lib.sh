# Helpers for the sink's integration tests (sourced after tests/lib.sh).
#
#   smtp_script ADDR PORT      send stdin's lines (CRLF added) in one go, print the replies
#   sink_start ADDR:PORT OUT [ARGS...]   relayctl sink in the background, JSON lines to OUT
#   json_lines FILE            number of receipts printed so far

SINK_SECRET=${SINK_SECRET:-integration-test-secret-0123456789}
SINK_DOMAIN=${SINK_DOMAIN:-sink.relayaudit.test}

smtp_script() {
	local addr=$1 port=$2
	exec 3<>"/dev/tcp/$addr/$port" || return 1
	sed 's/$/\r/' >&3
	timeout 5 cat <&3
	exec 3<&-
}

sink_start() {
	local listen=$1 out=$2
	shift 2
	: >"$out"
	bg_start "$RELAYCTL" sink --listen "$listen" --sink-domain "$SINK_DOMAIN" \
		--secret "$SINK_SECRET" --max-time 120 "$@" >"$out" 2>"$out.log"
	wait_for 5 grep -q sink_listening "$out.log"
}

json_lines() {
	grep -c '^{' "$1" 2>/dev/null || true
}

# The value of a top-level string field in relayctl probe --json output.
json_field() {
	grep -o "\"$2\":\"[^\"]*\"" <<<"$1" | head -1 | sed 's/.*:"\(.*\)"/\1/'
}
# The value of a top-level number field.
json_number() {
	grep -o "\"$2\":[0-9-]*" <<<"$1" | head -1 | sed 's/.*://'
}
