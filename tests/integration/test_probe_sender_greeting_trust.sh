#!/bin/bash
# Relay rules that trust a sender domain or the client's greeting, against
# relaysim, proven with relayctl probe --sink (no database):
#   trust-sender (its parent domain)     -> relay_confirmed via spoof-domain/plain
#   trust-sender (a customer's domain)   -> closed without --domain, relay_confirmed with it
#   trust-helo-host/-literal/-localhost  -> relay_confirmed, the trick names the greeting
#   refuse-helo-self                     -> closed; each refused greeting is in the evidence
#   errors421 (3 errors a session)       -> every attempt, new ones too, still gets its refusal
#   open                                 -> the widening attempts are skipped
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/sink_lib.sh"
. "$(dirname "$0")/sim_lib.sh"

command -v jq >/dev/null || { fail setup "jq is not installed (deploy/install-deps.sh)"; exit 1; }
trap bg_cleanup EXIT

N=127.0.62 # .10-.13 and .192/26 are test_api_retest's: never bind those here
SINK=$N.100:2525
sim_start trust --sink $SINK --errors 3 $N.1:2525=trust-sender $N.2:2525=trust-helo-host \
	$N.3:2525=trust-helo-literal $N.4:2525=trust-helo-localhost $N.5:2525=refuse-helo-self \
	$N.6:2525=errors421 $N.7:2525=open $N.8:2525=closed ||
	{ fail setup "relaysim did not start"; exit 1; }
sim_start customer --sink $SINK --trust-domain kunde.test $N.21:2525=trust-sender ||
	{ fail setup "relaysim (customer) did not start"; exit 1; }

probe() { # NAME TARGET [ARGS...]: JSON in $TEST_TMP/NAME.json
	local name=$1 target=$2
	shift 2
	timeout 90 "$RELAYCTL" probe --json --transcript --secret "$SINK_SECRET" --sink-domain "$SINK_DOMAIN" \
		--sink $SINK --wait 5s --timeout 3s --deadline 60s --greylist-wait 1s "$@" "$target" \
		>"$TEST_TMP/$name.json" 2>>"$TEST_TMP/probe.err"
}
field() { jq -r "$2 // empty" "$TEST_TMP/$1.json" 2>/dev/null | head -1; }

# A relay rule that trusts senders of the server's own parent domain: the host is
# sim-127-0-62-1.relaysim.test, its registrable domain (Public Suffix List) relaysim.test.
probe sender $N.1:2525
check_eq trust_sender_relay_confirmed "$(field sender .verdict)" relay_confirmed
check_eq trust_sender_trick_is_spoof_domain "$(field sender .trick)" spoof-domain/plain
check_eq trust_sender_relayed_attempt_forged_the_parent_domain \
	"$(field sender '[.attempts[] | select(.outcome == "relayed")][0].mail_from')" "<postmaster@relaysim.test>"
check_eq trust_sender_evidence_names_sender_and_form \
	"$(field sender '[.attempts[] | select(.outcome == "relayed")][0] | .sender + " " + .form + " " + .helo')" \
	"spoof-domain plain relayaudit.invalid"

# A customer domain on record that no name of the server gives away.
probe customer_without $N.21:2525
check_eq trust_customer_domain_closed_without_it "$(field customer_without .verdict)" closed
probe customer_with $N.21:2525 --domain kunde.test
check_eq trust_customer_domain_confirmed_with_domain "$(field customer_with .verdict)" relay_confirmed
check_eq trust_customer_domain_trick "$(field customer_with .trick)" spoof-domain/plain
check_eq trust_customer_domain_sender \
	"$(field customer_with '[.attempts[] | select(.outcome == "relayed")][0].mail_from')" "<postmaster@kunde.test>"
if "$RELAYCTL" probe --domain 'bad domain>' $N.8:2525 >/dev/null 2>"$TEST_TMP/bad.err"; then
	fail domain_option_refuses_a_bad_name "exit 0"
else
	check_contains domain_option_refuses_a_bad_name "$(cat "$TEST_TMP/bad.err")" "not a domain name"
fi

# Rules keyed on the client's greeting: each is found, and named, by the greeting it trusts.
for k in 2:host:sim-127-0-62-2.relaysim.test 3:literal:[$N.3] 4:localhost:localhost; do
	IFS=: read -r i kind name <<<"$k"
	probe helo_$kind $N.$i:2525
	check_eq "trust_helo_${kind}_relay_confirmed" "$(field helo_$kind .verdict)" relay_confirmed
	check_eq "trust_helo_${kind}_trick_names_the_greeting" "$(field helo_$kind .trick)" "null/plain+helo-$kind"
	check_eq "trust_helo_${kind}_evidence_has_the_greeting_sent" \
		"$(field helo_$kind '[.attempts[] | select(.outcome == "relayed")][0].helo')" "$name"
done

# A server that refuses to be greeted with its own name: recorded, not fatal.
probe refuse $N.5:2525
check_eq refused_greeting_still_closed "$(field refuse .verdict)" closed
check_eq refused_greetings_recorded_at_ehlo \
	"$(field refuse '[.attempts[] | select(.helo_kind != null or .helo != "relayaudit.invalid") | select(.stage == "ehlo" and .outcome == "refused" and .helo_reply.code == 550)] | length')" 12
check_eq refused_greetings_other_attempts_ran \
	"$(field refuse '[.attempts[] | select(.helo == "relayaudit.invalid" and (.backscatter | not) and .stage == "rcpt")] | length')" \
	"$(field refuse '[.attempts[] | select(.helo == "relayaudit.invalid" and (.backscatter | not))] | length')"
# The transcript is bounded (8 KiB) and ends before these sessions; the attempt keeps the reply.
check_contains refused_greeting_reply_kept "$(field refuse '[.attempts[] | select(.helo == "localhost")][0].helo_reply.text')" \
	"Helo command rejected"

# Three errors a session, then 421: every attempt, the new ones too, is still made.
probe errors $N.6:2525
check_eq error_limit_closed "$(field errors .verdict)" closed
check_eq error_limit_every_relay_attempt_refused \
	"$(field errors '[.attempts[] | select((.backscatter | not) and .outcome == "refused" and .stage == "rcpt")] | length')" \
	"$(field errors '[.attempts[] | select(.backscatter | not)] | length')"
check_eq error_limit_spoof_domain_attempts_made "$(field errors '[.attempts[] | select(.sender == "spoof-domain")] | length')" 4
check_eq error_limit_greeting_attempts_made \
	"$(field errors '[.attempts[] | select(.helo != "relayaudit.invalid")] | length')" 12
conns=$(field errors .connections)
if [ "${conns:-0}" -gt 30 ]; then pass "error_limit_reconnected ($conns connections)"
else fail error_limit_reconnected "got ${conns:-none} connections, want > 30"; fi

# An open relay: once an attempt is accepted, spoof-domain and the greetings cannot change the result.
probe open $N.7:2525
check_eq open_relay_confirmed "$(field open .verdict)" relay_confirmed
check_eq open_relay_trick_unchanged "$(field open .trick)" null/plain
check_eq open_relay_widening_attempts_skipped \
	"$(field open '[.attempts[] | select(.sender == "spoof-domain" or .helo != "relayaudit.invalid") | .outcome] | unique | join(",")')" skipped

# Closed: the plain catalogue and the widening attempts, all refused.
probe closed $N.8:2525
check_eq closed_verdict "$(field closed .verdict)" closed
check_eq closed_attempt_count "$(field closed '[.attempts[] | select(.backscatter | not)] | length')" $((76 + 4 + 12))

sim_stop customer || fail "relaysim (customer) exits cleanly" "exit status $?"
if sim_stop trust; then pass "relaysim exits cleanly"; else fail "relaysim exits cleanly" "exit status $?"; fi
