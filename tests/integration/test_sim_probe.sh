#!/bin/bash
# relayctl probe against every relaysim behaviour: the verdict the rules in
# shared/RELAY-TESTS.md call for, and a probe that ends within its deadline
# (never a hang, never a crash). One simulator, one probe process per
# behaviour, all run side by side.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/sim_lib.sh"

command -v jq >/dev/null || { fail setup "jq is not installed (deploy/install-deps.sh)"; exit 1; }
[ -x "$RELAYCTL" ] || { fail setup "no $RELAYCTL"; exit 1; }

P=2525
N=127.0.21
# behaviour         verdicts allowed (regex)   deadline
CASES=(
	"open           ^accepted$                 10"
	"closed         ^closed$                   10"
	"datareject     ^closed$                   10"
	"datareject-cmd ^closed$                   10"
	"drop           ^accepted$                 10"
	"percent        ^accepted$                 10"
	"greylist       ^closed$                   10"
	"greylist-open  ^accepted$                 10"
	"defer          ^closed$                   10"
	"tempfail       ^tempfail$                 10"
	"tarpit         ^(error|no_smtp)$          4"
	"banner-reject  ^rejected_banner$          10"
	"errors421      ^closed$                   10"
	"drop-mid       ^error$                    10"
	"drop-once      ^closed$                   10"
	"garbage        ^error$                    6"
	"endless        ^error$                    6"
	"hugereply      ^error$                    6"
	"split          ^closed$                   15"
	"split-open     ^accepted$                 15"
	"noehlo         ^closed$                   10"
	"auth           ^closed$                   10"
	"pregreet       ^closed$                   15"
)

specs=()
i=0
for c in "${CASES[@]}"; do
	read -r b _ _ <<<"$c"
	i=$((i + 1))
	specs+=("$N.$i:$P=$b")
done
sim_start sim --greylist-secs 1 --errors 3 --pregreet-ms 300 --split-us 200 --tarpit-ms 1000 \
	"${specs[@]}" || { fail setup "relaysim did not start"; exit 1; }

i=0
pids=()
for c in "${CASES[@]}"; do
	read -r b _ deadline <<<"$c"
	i=$((i + 1))
	probe_run "$b" "$N.$i:$P" "${deadline}s" --timeout 2s --greylist-wait 1500ms &
	pids+=($!)
done
for p in "${pids[@]}"; do wait "$p"; done

for c in "${CASES[@]}"; do
	read -r b want deadline <<<"$c"
	got=$(probe_field "$b" .verdict)
	if [[ $got =~ $want ]]; then pass "$b: verdict $got"
	else fail "$b: verdict" "got '${got:-none}', want $want"; fi
	check_probe_ended "$b" $((deadline * 1000))
done

# Inconclusive verdicts say why, in printable text.
for b in tarpit drop-mid garbage endless hugereply; do
	why=$(probe_field "$b" .error)
	if [[ -n $why && $why =~ ^[[:print:]]+$ ]]; then pass "$b: error reason recorded ($why)"
	else fail "$b: error reason recorded" "got '$(printf %q "$why")', want printable text"; fi
done

check_contains "percent: the trick names a percent form" "$(probe_field percent .trick)" percent
check_eq "open: exit status says a relay was found" "$(cat "$TEST_TMP/probe-open.rc")" 1
check_eq "closed: exit status says no relay" "$(cat "$TEST_TMP/probe-closed.rc")" 0
check_contains "defer: the reason names the deferred 4.7.1 refusal" "$(probe_field defer .reason)" 4.7.1
check_eq "split: same verdict as closed" "$(probe_field split .verdict)" "$(probe_field closed .verdict)"
check_eq "split-open: same verdict as open" "$(probe_field split-open .verdict)" "$(probe_field open .verdict)"
check_eq "noehlo: HELO fallback reaches RCPT" "$(probe_field noehlo '.attempts[0].rcpt.code')" 554
conns=$(probe_field errors421 .connections)
if [ "${conns:-0}" -gt 1 ]; then pass "errors421: the engine reconnected after 421 ($conns connections)"
else fail "errors421: the engine reconnected after 421" "got ${conns:-none} connections, want > 1"; fi
refused=$(jq '[.attempts[] | select((.backscatter | not) and .outcome == "refused")] | length' "$TEST_TMP/probe-errors421.json" 2>/dev/null)
total=$(jq '[.attempts[] | select(.backscatter | not)] | length' "$TEST_TMP/probe-errors421.json" 2>/dev/null)
check_eq "errors421: every relay attempt still got its refusal" "${refused:-none}" "${total:-0}"
pregreet_drops=$(grep -c "event=sim_pregreet listener=\[$N.23\]" "$TEST_TMP/sim.err")
check_eq "pregreet: the prober waited for the final greeting line" "$pregreet_drops" 0

if sim_stop sim; then pass "relaysim exits cleanly"; else fail "relaysim exits cleanly" "exit status $?"; fi
