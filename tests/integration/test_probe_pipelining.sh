#!/bin/bash
# relayctl probe against relaysim: with PIPELINING and while no recipient was
# accepted, a connection's transactions go out as one group that ends in QUIT
# (every command before any reply in the transcript); without PIPELINING one
# command waits for the reply to the last; an open relay whose recipients were
# accepted in such a group (no DATA there) is still confirmed through the sink,
# with the trick named and the put-back attempts tried once each.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/sink_lib.sh"
. "$(dirname "$0")/sim_lib.sh"

probe() {
	timeout 60 "$RELAYCTL" probe --json --transcript --secret "$SINK_SECRET" --timeout 3s \
		--deadline 30s --rate 0 --per-net 0 "$@" 2>>"$TEST_TMP/probe.err"
}

# The transcript's connections as "C"/"S" runs after the greeting exchange:
# "C13 S13" is thirteen commands, then thirteen replies (continuation lines
# of a multi-line reply count with their reply). One line per connection.
dialogue_shape() {
	python3 -c '
import json, sys
d = json.loads(sys.stdin.readline())
for conn in ("\n" + d["transcript"]).split("\nS: 220 ")[1:]:
    lines = conn.split("\n")[1:]
    # skip EHLO/HELO and its reply: the shape starts after the greeting exchange
    while lines and not lines[0].startswith(("C: MAIL", "C: RSET")):
        lines.pop(0)
    runs = []
    for l in lines:
        if not l.startswith(("C: ", "S: ")) or l.startswith(("C: <", "S: 250-", "S: 220")):
            continue
        k = l[0]
        if runs and runs[-1][0] == k:
            runs[-1][1] += 1
        else:
            runs.append([k, 1])
    print(" ".join("%s%d" % (k, n) for k, n in runs))
'
}

sim_start pipe 127.0.32.1:2525=closed 127.0.32.2:2525=noehlo 127.0.32.3:2525=open \
	--sink 127.0.32.9:2525 || { fail sim_started "relaysim did not start"; exit 1; }

# A closed server that offers PIPELINING: one group per connection, QUIT last.
out=$(probe 127.0.32.1:2525)
check_eq closed_verdict "$(json_field "$out" verdict)" closed
shape=$(dialogue_shape <<<"$out" | sed -n 1p)
check_eq closed_first_connection_is_one_group_then_its_replies "$shape" "C13 S12"
last_cmd=$(python3 -c '
import json, sys
d = json.loads(sys.stdin.readline())
first = ("\n" + d["transcript"]).split("\nS: 220 ")[1]
print([l for l in first.split("\n") if l.startswith("C: ")][-1])' <<<"$out")
check_eq closed_group_ends_with_quit "$last_cmd" "C: QUIT"
# the same error budget as one transaction at a time: 8 + 1 refusals, no more
refusals=$(python3 -c '
import json, sys
d = json.loads(sys.stdin.readline())
first = ("\n" + d["transcript"]).split("\nS: 220 ")[1]
print(sum(1 for l in first.split("\n") if l.startswith(("S: 4", "S: 5"))))' <<<"$out")
check_eq closed_group_stays_within_nine_refusals "$refusals" 9

# Without PIPELINING (EHLO refused, HELO), every command waits for its reply.
out=$(probe 127.0.32.2:2525)
check_eq nopipe_verdict "$(json_field "$out" verdict)" closed
shapes=$(dialogue_shape <<<"$out")
# every connection alternates C1 S1 (a QUIT at the end goes unanswered)
if [ -n "$shapes" ] && ! grep -qvE '^(C1 S1 ?)+( C1)?$' <<<"$shapes"; then
	pass nopipe_one_command_at_a_time
else
	fail nopipe_one_command_at_a_time "got '$(sed -n 1,3p <<<"$shapes" | tr '\n' '|')', want C1 S1 ..."
fi
check_contains nopipe_no_pipelining_recorded "$out" '"pipelining":false'

# An open relay: the first group's recipients are accepted without DATA; they
# run again on the next connection, the message reaches the sink, and the
# trick is the first form, resent alone.
out=$(probe --sink 127.0.32.9:2525 --sink-domain "$SINK_DOMAIN" --wait 10s 127.0.32.3:2525)
rc=$?
check_eq open_confirmed "$(json_field "$out" verdict)" relay_confirmed
check_eq open_trick_is_plain "$(json_field "$out" trick)" null/plain
check_eq open_exit_status "$rc" 1
first=$(dialogue_shape <<<"$out" | sed -n 1p)
check_eq open_first_connection_group_had_no_data "$first" "C13 S12"
if python3 -c '
import json, sys
d = json.loads(sys.stdin.readline())
first = ("\n" + d["transcript"]).split("\nS: 220 ")[1]
sys.exit(1 if "C: DATA" in first else 0)' <<<"$out"; then
	pass open_no_data_in_the_speculative_group
else
	fail open_no_data_in_the_speculative_group "DATA in the first connection"
fi
tries=$(python3 -c '
import json, sys
d = json.loads(sys.stdin.readline())
print(next(a["tries"] for a in d["attempts"] if a["index"] == 0))' <<<"$out")
check_eq open_put_back_attempt_counts_one_try "$tries" 1
check_contains open_attempt_relayed "$out" '"outcome":"relayed"'

sim_stop pipe || fail sim_stopped_cleanly "relaysim exited with an error"
