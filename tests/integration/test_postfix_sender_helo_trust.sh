#!/bin/bash
# Real Postfix instances whose relay rules trust a sender domain or the client's
# greeting, probed by relayctl probe with its in-process sink:
#   check_sender_access naming the parent domain exactly, banner a host below it
#                                          -> relay_confirmed, trick spoof-domain/...
#   check_sender_access naming a customer domain no name of the server gives away
#                                          -> closed; relay_confirmed with --domain
#   check_helo_access OK for its own name  -> relay_confirmed, trick ...+helo-host
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/sink_lib.sh"
. "$ROOT/tests/mta/postfix.sh"

postfix_suite
command -v jq >/dev/null || { fail setup "jq is not installed (deploy/install-deps.sh)"; exit 1; }


N=127.0.63
SINK=$N.100
# pf NAME ADDR HOSTNAME TABLE-LINE [MAIN_CF_LINE...]: an instance named HOSTNAME that routes
# the sink domain to the sink, with one access table (DIR/etc/access) holding TABLE-LINE.
pf() {
	local name=$1 addr=$2 host=$3 line=$4 dir=$TEST_TMP/pf-$1
	shift 4
	PF_DIRS+=("$dir")
	mkdir -p "$dir/etc"
	echo "$line" >"$dir/etc/access"
	postfix_start "$dir" "$addr" 2525 \
		"myhostname = $host" \
		"transport_maps = inline:{ $SINK_DOMAIN=smtp:[$SINK]:2525 }" \
		"smtpd_error_sleep_time = 0s" \
		"parent_domain_matches_subdomains = debug_peer_list" "$@"
}

probe() { # NAME ADDR [ARGS...]: JSON in $TEST_TMP/NAME.json
	local name=$1 addr=$2
	shift 2
	timeout 120 "$RELAYCTL" probe --json --secret "$SINK_SECRET" --sink-domain "$SINK_DOMAIN" \
		--sink $SINK:2525 --wait 20s --timeout 5s --deadline 90s --greylist-wait 1s "$@" "$addr:2525" \
		>"$TEST_TMP/$name.json" 2>>"$TEST_TMP/probe.err"
}
field() { jq -r "$2 // empty" "$TEST_TMP/$1.json" 2>/dev/null | head -1; }
check_trick() { # NAME GOT REGEX
	if [[ $2 =~ $3 ]]; then pass "$1"; else fail "$1" "got '$2', want it to match $3"; fi
}
show_log() { echo "-- $1 maillog:"; tail -15 "$TEST_TMP/pf-$1/maillog" | sed 's/^/   /'; }

# (a) "Our own addresses" as senders: the parent domain, named exactly (no subdomains).
if pf parent $N.1 mx.mail.grossefirma.test "grossefirma.test OK" \
	"smtpd_relay_restrictions = permit_mynetworks, check_sender_access texthash:$TEST_TMP/pf-parent/etc/access, reject_unauth_destination"; then
	probe parent $N.1
	check_eq postfix_sender_parent_domain_relay_confirmed "$(field parent .verdict)" relay_confirmed
	# Postfix delivers its queue in parallel: whichever spoof-domain form's message
	# reaches the sink first may name the trick when relayctl prints it.
	check_trick postfix_sender_parent_domain_trick "$(field parent .trick)" '^spoof-domain/[a-z-]+$'
	check_eq postfix_sender_parent_domain_forged_sender \
		"$(field parent '[.attempts[] | select(.outcome == "relayed" or .outcome == "accepted")][0].mail_from')" \
		"<postmaster@grossefirma.test>"
	check_eq postfix_sender_parent_domain_host_itself_not_trusted \
		"$(field parent '[.attempts[] | select(.sender == "spoof-local" and .helo == "relayaudit.invalid") | .outcome] | unique | join(",")')" refused
	[ "$(field parent .verdict)" = relay_confirmed ] || show_log parent
else
	fail postfix_sender_parent_started "postfix_start failed"
fi

# (b) A customer domain on record that no name of the server gives away.
if pf customer $N.2 mx.hosting-provider.test "kunde-gmbh.test OK" \
	"smtpd_relay_restrictions = permit_mynetworks, check_sender_access texthash:$TEST_TMP/pf-customer/etc/access, reject_unauth_destination"; then
	probe customer_without $N.2 --wait 3s
	check_eq postfix_customer_domain_closed_without_record "$(field customer_without .verdict)" closed
	probe customer_with $N.2 --domain kunde-gmbh.test
	check_eq postfix_customer_domain_relay_confirmed_with_record "$(field customer_with .verdict)" relay_confirmed
	check_trick postfix_customer_domain_trick "$(field customer_with .trick)" '^spoof-domain/[a-z-]+$'
	check_eq postfix_customer_domain_forged_sender \
		"$(field customer_with '[.attempts[] | select(.outcome == "relayed" or .outcome == "accepted")][0].mail_from')" \
		"<postmaster@kunde-gmbh.test>"
	[ "$(field customer_with .verdict)" = relay_confirmed ] || show_log customer
else
	fail postfix_customer_started "postfix_start failed"
fi

# (c) A client greeting with the server's own name is trusted.
if pf helo $N.3 mx.helo-firma.test "mx.helo-firma.test OK" \
	"smtpd_relay_restrictions = permit_mynetworks, check_helo_access texthash:$TEST_TMP/pf-helo/etc/access, reject_unauth_destination"; then
	probe helo $N.3
	check_eq postfix_helo_own_name_relay_confirmed "$(field helo .verdict)" relay_confirmed
	check_trick postfix_helo_own_name_trick_names_the_greeting "$(field helo .trick)" '^[a-z-]+/plain\+helo-host$'
	check_eq postfix_helo_own_name_greeting_in_evidence \
		"$(field helo '[.attempts[] | select(.outcome == "relayed" or .outcome == "accepted")][0].helo')" mx.helo-firma.test
	[ "$(field helo .verdict)" = relay_confirmed ] || show_log helo
else
	fail postfix_helo_started "postfix_start failed"
fi
