#!/bin/bash
# relaysim on its own, spoken to by a tiny bash SMTP client: every behaviour
# answers as documented in tests/sim/README.md, forwarding reaches only the
# loopback sink, and bad specs are refused.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/sim_lib.sh"

N=127.0.20
name_of() { echo "sim-${1//./-}.relaysim.test"; }

sim_start_anyport main --greylist-secs 2 --errors 3 --tarpit-ms 1000 --pregreet-ms 500 \
	--sink $N.19:PORT \
	$N.1:PORT=open $N.2:PORT=closed $N.3:PORT=datareject $N.4:PORT=drop $N.5:PORT=percent \
	$N.6:PORT=greylist $N.7:PORT=greylist-open $N.8:PORT=tarpit $N.9:PORT=banner-reject \
	$N.10:PORT=errors421 $N.11:PORT=drop-mid $N.12:PORT=garbage $N.13:PORT=endless \
	$N.14:PORT=hugereply $N.15:PORT=split $N.16:PORT=noehlo $N.17:PORT=auth $N.18:PORT=pregreet \
	$N.19:PORT=mailbox $N.20:PORT=open $N.21:PORT=drop-once $N.22:PORT=defer $N.23:PORT=datareject-cmd \
	$N.24:PORT=split-open $N.25:PORT=tempfail \
	|| { fail start "relaysim did not start"; exit 1; }
P=$SIM_PORT
pass "prints ready once every listener is bound"

out=$(smtp_talk $N.1 $P "EHLO t" "MAIL FROM:<probe@outside.test>" "RCPT TO:<rt1@sink.test>" DATA QUIT)
check_eq "open accepts a foreign recipient and the message" "$(cut -c1-3 <<<"$out" | tr '\n' ' ')" "220 250 250 250 354 250 221 "

out=$(smtp_talk $N.2 $P "EHLO t" "MAIL FROM:<>" "RCPT TO:<rt1@sink.test>" \
	"RCPT TO:<postmaster@$(name_of $N.2)>" "RCPT TO:<nobody@[$N.2]>")
check_eq "closed refuses relaying with 554 5.7.1" "$(sed -n 4p <<<"$out" | cut -c1-9)" "554 5.7.1"
check_eq "closed accepts its own postmaster" "$(reply_code "$out" 5)" 250
check_eq "closed refuses unknown local users with 550 5.1.1" "$(sed -n 6p <<<"$out" | cut -c1-9)" "550 5.1.1"

out=$(smtp_talk $N.3 $P "EHLO t" "MAIL FROM:<>" "RCPT TO:<rt1@sink.test>" DATA)
check_eq "datareject accepts RCPT and DATA, refuses after the dot" "$(cut -c1-3 <<<"$out" | tr '\n' ' ')" "220 250 250 250 354 554 "

out=$(smtp_talk $N.23 $P "EHLO t" "MAIL FROM:<>" "RCPT TO:<rt1@sink.test>" DATA)
check_eq "datareject-cmd refuses the DATA command" "$(cut -c1-3 <<<"$out" | tr '\n' ' ')" "220 250 250 250 554 "

out=$(smtp_talk $N.4 $P "EHLO t" "MAIL FROM:<>" "RCPT TO:<rt1@sink.test>" DATA)
check_eq "drop accepts through end of data" "$(cut -c1-3 <<<"$out" | tr '\n' ' ')" "220 250 250 250 354 250 "

out=$(smtp_talk $N.5 $P "EHLO t" "MAIL FROM:<>" "RCPT TO:<rt1@sink.test>" \
	"RCPT TO:<rt2%sink.test@[$N.5]>" "RCPT TO:<rt3%sink.test@$(name_of $N.5)>" \
	'RCPT TO:<"rt4%sink.test">' "RCPT TO:<@[$N.5]:rt5@sink.test>" "RCPT TO:<sink.test!rt6@[$N.5]>")
check_eq "percent relays only the percent hack" "$(sed -n '4,9p' <<<"$out" | cut -c1-3 | tr '\n' ' ')" "554 250 250 554 554 554 "

out=$(smtp_talk $N.6 $P "EHLO t" "MAIL FROM:<g@outside.test>" "RCPT TO:<rt1@sink.test>" "RCPT TO:<rt1@sink.test>")
check_eq "greylist defers a new triplet with 450 4.7.1" "$(sed -n 4p <<<"$out" | cut -c1-9)" "450 4.7.1"
check_eq "greylist defers an early retry" "$(reply_code "$out" 5)" 450
sleep 2.2 # the greylisting delay itself is what is under test
out=$(smtp_talk $N.6 $P "EHLO t" "MAIL FROM:<g@outside.test>" "RCPT TO:<rt1@sink.test>" "RCPT TO:<rt9@sink.test>")
check_eq "greylist refuses a retried triplet as closed" "$(sed -n 4p <<<"$out" | cut -c1-9)" "554 5.7.1"
check_eq "greylist still defers another triplet" "$(reply_code "$out" 5)" 450

smtp_talk $N.7 $P "EHLO t" "MAIL FROM:<g@outside.test>" "RCPT TO:<rt1@sink.test>" >/dev/null
sleep 2.2
out=$(smtp_talk $N.7 $P "EHLO t" "MAIL FROM:<g@outside.test>" "RCPT TO:<rt1@sink.test>")
check_eq "greylist-open accepts a retried triplet" "$(reply_code "$out" 4)" 250

out=$(smtp_talk $N.22 $P "EHLO t" "MAIL FROM:<>" "RCPT TO:<rt1@sink.test>")
check_eq "defer answers 454 4.7.1" "$(sed -n 4p <<<"$out" | cut -c1-9)" "454 4.7.1"
out=$(smtp_talk $N.25 $P "EHLO t" "MAIL FROM:<>" "RCPT TO:<rt1@sink.test>")
check_eq "tempfail answers 451 4.3.0" "$(sed -n 4p <<<"$out" | cut -c1-9)" "451 4.3.0"

# Tarpit: in 2.5 s at most three bytes of the greeting arrive.
got=$(timeout 2.5 bash -c "exec 3<>/dev/tcp/$N.8/$P; cat <&3" | wc -c)
if [ "$got" -ge 1 ] && [ "$got" -le 3 ]; then pass "tarpit writes one byte per second"
else fail "tarpit writes one byte per second" "got $got bytes in 2.5 s, want 1..3"; fi

out=$(smtp_talk $N.9 $P "EHLO t" QUIT)
check_eq "banner-reject greets with 554, answers 503, lets QUIT go" "$(cut -c1-3 <<<"$out" | tr '\n' ' ')" "554 503 221 "

out=$(smtp_talk $N.10 $P "EHLO t" "MAIL FROM:<>" "RCPT TO:<a@x.test>" "RCPT TO:<b@x.test>" \
	"RCPT TO:<c@x.test>" "RCPT TO:<d@x.test>" NOOP)
check_eq "errors421 says 421 after three refusals and closes" "$(sed -n '4,8p' <<<"$out" | cut -c1-3 | tr '\n' ' ')" "554 554 554 421 EOF "

out=$(smtp_talk $N.11 $P "EHLO t" "MAIL FROM:<>")
check_eq "drop-mid closes at MAIL" "$(sed -n 3p <<<"$out")" EOF
out=$(smtp_talk $N.21 $P "EHLO t" "MAIL FROM:<>")
check_eq "drop-once closes at MAIL on the first connection" "$(sed -n 3p <<<"$out")" EOF
out=$(smtp_talk $N.21 $P "EHLO t" "MAIL FROM:<>" "RCPT TO:<rt1@sink.test>")
check_eq "drop-once behaves as closed afterwards" "$(sed -n '3,4p' <<<"$out" | cut -c1-3 | tr '\n' ' ')" "250 554 "

got=$(timeout 2 bash -c "exec 3<>/dev/tcp/$N.12/$P; printf 'EHLO t\r\nMAIL FROM:<>\r\n' >&3; cat <&3" | tail -n +2 | tr -d '\r\0')
if [ -n "$got" ] && ! grep -qaE '^[0-9]{3}' <<<"$got"; then pass "garbage answers with noise and no reply code"
else fail "garbage answers with noise and no reply code" "got '${got:0:80}'"; fi

timeout 5 bash -c "exec 3<>/dev/tcp/$N.13/$P; printf 'EHLO t\r\n' >&3; cat <&3" | tail -n +2 | head -c 2000000 >"$TEST_TMP/endless"
got="$(wc -c <"$TEST_TMP/endless") $(head -c 4 "$TEST_TMP/endless") $(tr -d A <"$TEST_TMP/endless" | wc -c)"
check_eq "endless sends 2 MB without a line end" "$got" "2000000 250- 4"

got=$(timeout 5 bash -c "exec 3<>/dev/tcp/$N.14/$P; printf 'EHLO t\r\n' >&3; head -c 4000000 <&3" | grep -c '^250-')
if [ "$got" -ge 90000 ]; then pass "hugereply sends a multi-line reply of megabytes"
else fail "hugereply sends a multi-line reply of megabytes" "got $got continuation lines, want >= 90000"; fi

out=$(smtp_talk $N.15 $P "EHLO t" "MAIL FROM:<>" "RCPT TO:<rt1@sink.test>" QUIT)
check_eq "split answers like closed" "$(cut -c1-3 <<<"$out" | tr '\n' ' ')" "220 250 250 554 221 "
out=$(smtp_talk $N.24 $P "EHLO t" "MAIL FROM:<>" "RCPT TO:<rt1@sink.test>" QUIT)
check_eq "split-open answers like open" "$(cut -c1-3 <<<"$out" | tr '\n' ' ')" "220 250 250 250 221 "

out=$(smtp_talk $N.16 $P "EHLO t" "HELO t" "MAIL FROM:<>" "RCPT TO:<rt1@sink.test>")
check_eq "noehlo refuses EHLO with 502, HELO works" "$(cut -c1-3 <<<"$out" | tr '\n' ' ')" "220 502 250 250 554 "

got=$(timeout 3 bash -c "exec 3<>/dev/tcp/$N.17/$P; printf 'EHLO t\r\nMAIL FROM:<>\r\nRCPT TO:<rt1@sink.test>\r\nQUIT\r\n' >&3; cat <&3" | tr -d '\r')
check_contains "auth advertises AUTH" "$got" "250-AUTH PLAIN LOGIN"
check_eq "auth answers 530 5.7.0 to MAIL and RCPT" "$(grep -c '^530 5.7.0' <<<"$got")" 2

start=$(date +%s%N)
out=$(smtp_talk $N.18 $P "EHLO t")
ms=$((($(date +%s%N) - start) / 1000000))
check_eq "pregreet serves a client that waits for the final line" "$(cut -c1-3 <<<"$out" | tr '\n' ' ')" "220 250 "
if [ $ms -ge 450 ]; then pass "pregreet pauses before the final greeting line"
else fail "pregreet pauses before the final greeting line" "got ${ms} ms, want >= 450"; fi
got=$(timeout 3 bash -c "exec 3<>/dev/tcp/$N.18/$P; IFS= read -r l <&3; printf 'EHLO early\r\n' >&3; cat <&3" | wc -c)
check_eq "pregreet drops a client that speaks early" "$got" 0

got=$(timeout 3 bash -c "exec 3<>/dev/tcp/$N.2/$P; IFS= read -r l <&3; head -c 3000 /dev/zero | tr '\0' x >&3; cat <&3" | cut -c1-9)
check_eq "an over-long command line gets 500 and the connection closes" "$got" "500 5.5.0"

# Forwarding: the open listener relays to --sink, here the same process's mailbox.
out=$(smtp_talk $N.20 $P "EHLO fwd.test" "MAIL FROM:<probe@outside.test>" "RCPT TO:<rtfwd%sink.test@[$N.20]>" DATA)
check_eq "open queues the message for the sink" "$(reply_code "$out" 6)" 250
wait_for 10 grep -q 'event=sim_message.*rtfwd' "$TEST_TMP/main.err"
line=$(grep 'event=sim_message.*rtfwd' "$TEST_TMP/main.err" | head -1)
check_contains "the forwarded message reaches the sink" "$line" 'rcpts="rtfwd@sink.test"'
check_contains "the forwarded message carries a Received: line" "$line" "Received: from fwd.test (127.0.0.1 [127.0.0.1])|?by $(name_of $N.20) ([$N.20]) (relaysim)"
check_contains "the forwarded message keeps its headers" "$line" "Subject: relaysim test"

if sim_stop main; then pass "exits cleanly on SIGTERM"; else fail "exits cleanly on SIGTERM" "exit status $?"; fi

# A range of listeners: 1024 of them, every one answering.
sim_start_anyport farm 127.0.24.0/22:PORT=closed || fail "farm starts" "no ready"
P=$SIM_PORT
ok=0
for a in 127.0.24.0 127.0.25.77 127.0.27.255; do
	[ "$(smtp_talk $a $P QUIT | head -1 | cut -c1-3)" = 220 ] && ok=$((ok + 1))
done
check_eq "a /22 range gives 1024 answering listeners" "$ok" 3
sim_stop farm

# Refusals end the process at once with a reason (bounded: a simulator that
# started anyway would be killed by timeout and fail the check).
refused() { # NAME WANT-IN-MESSAGE ARGS...
	local name=$1 want=$2 out rc
	shift 2
	out=$(timeout 5 "$RELAYSIM" "$@" 2>&1 >/dev/null)
	rc=$?
	if [ $rc -eq 1 ] && [[ $out == *"$want"* ]]; then pass "$name"
	else fail "$name" "got exit $rc '${out:0:200}', want exit 1 naming '$want'"; fi
}
refused "refuses a non-loopback sink" loopback --sink 192.0.2.1:25 $N.30:$P=open
refused "refuses a non-loopback listener" loopback 192.0.2.1:$P=open
refused "refuses a non-loopback range" loopback 126.255.254.0/23:$P=open
refused "refuses an unknown behaviour" "unknown behaviour" $N.30:$P=nonsense

# A sink that is down: the open listener still accepts, the forwarder gives the
# message up after its bounded retries, and the simulator keeps serving.
sim_start_anyport deadsink --sink 127.0.20.251:PORT $N.40:PORT=open || fail "deadsink starts" "no ready"
P=$SIM_PORT
out=$(smtp_talk $N.40 $P "EHLO t" "MAIL FROM:<>" "RCPT TO:<rtdead@sink.test>" DATA)
check_eq "open accepts while the sink is down" "$(reply_code "$out" 6)" 250
if wait_for 15 grep -q 'event=sim_forward_failed' "$TEST_TMP/deadsink.err"; then
	pass "the forwarder gives up after bounded retries"
else fail "the forwarder gives up after bounded retries" "no sim_forward_failed in 15 s"; fi
check_eq "retries are bounded (two before giving up)" "$(grep -c 'event=sim_forward_retry' "$TEST_TMP/deadsink.err")" 2
check_eq "still serving after giving up" "$(smtp_talk $N.40 $P QUIT | head -1 | cut -c1-3)" 220
if sim_stop deadsink; then pass "deadsink exits cleanly"; else fail "deadsink exits cleanly" "exit status $?"; fi

# split trickles: with 20 ms between bytes, the ~50-byte greeting takes about a second.
sim_start_anyport slowsplit --split-us 20000 $N.41:PORT=split || fail "slowsplit starts" "no ready"
start=$(date +%s%N)
line=$(timeout 5 bash -c "exec 3<>/dev/tcp/$N.41/$SIM_PORT; IFS= read -r l <&3; echo \"\$l\"")
ms=$((($(date +%s%N) - start) / 1000000))
check_eq "split delivers an intact greeting" "${line:0:4}" "220 "
if [ $ms -ge 700 ]; then pass "split writes the reply byte by byte (${ms} ms for the greeting)"
else fail "split writes the reply byte by byte" "greeting took ${ms} ms, want >= 700"; fi
sim_stop slowsplit

# The session limit: past it a connection is closed at once, and counted.
sim_start_anyport capped --max-sessions 2 $N.42:PORT=closed || fail "capped starts" "no ready"
exec {c1}<>"/dev/tcp/$N.42/$SIM_PORT"
exec {c2}<>"/dev/tcp/$N.42/$SIM_PORT"
IFS= read -t 3 -r l1 <&"$c1"
IFS= read -t 3 -r l2 <&"$c2"
out=$(smtp_talk $N.42 $SIM_PORT QUIT)
exec {c1}>&- {c2}>&-
check_eq "two sessions within the limit are served" "${l1:0:3} ${l2:0:3}" "220 220"
check_eq "a third session past --max-sessions is closed at once" "$out" EOF
check_eq "a session is served again once one ends" "$(wait_for 5 bash -c "[ \"\$(. $ROOT/tests/integration/sim_lib.sh; smtp_talk $N.42 $SIM_PORT QUIT | head -1 | cut -c1-3)\" = 220 ]" && echo yes)" yes
sim_stop capped
refused=$(grep -o 'event=sim_stop.*refused_total=[0-9]*' "$TEST_TMP/capped.err" | sed 's/.*refused_total=//')
if [ "${refused:-0}" -ge 1 ] && grep -q 'event=sim_session_refused' "$TEST_TMP/capped.err"; then
	pass "refusals are logged and counted ($refused)"
else fail "refusals are logged and counted" "got refused_total='$refused', want >= 1 and a sim_session_refused line"; fi

# Relay rules keyed on the sender's domain or the client's greeting, and a host that
# refuses to be greeted as itself (--anonymous: the greeting names no host).
sim_start_anyport trust --trust-domain kunde.test $N.50:PORT=trust-sender $N.51:PORT=trust-helo-host \
	$N.52:PORT=trust-helo-literal $N.53:PORT=trust-helo-localhost $N.54:PORT=refuse-helo-self ||
	fail "trust starts" "no ready"
T=$SIM_PORT
out=$(smtp_talk $N.50 $T "EHLO t" "MAIL FROM:<postmaster@kunde.test>" "RCPT TO:<rt1@sink.test>" RSET \
	"MAIL FROM:<postmaster@sub.kunde.test>" "RCPT TO:<rt1@sink.test>")
check_eq "trust-sender relays for the trusted domain only, matched exactly" \
	"$(sed -n '4p;7p' <<<"$out" | cut -c1-3 | tr '\n' ' ')" "250 554 "
out=$(smtp_talk $N.51 $T "EHLO $(name_of $N.51)" "MAIL FROM:<>" "RCPT TO:<rt1@sink.test>" \
	"EHLO other.test" "MAIL FROM:<>" "RCPT TO:<rt1@sink.test>")
check_eq "trust-helo-host relays after a greeting with its name, not another" \
	"$(sed -n '4p;7p' <<<"$out" | cut -c1-3 | tr '\n' ' ')" "250 554 "
out=$(smtp_talk $N.52 $T "HELO [$N.52]" "MAIL FROM:<>" "RCPT TO:<rt1@sink.test>")
check_eq "trust-helo-literal relays after HELO with its literal" "$(reply_code "$out" 4)" 250
out=$(smtp_talk $N.53 $T "EHLO localhost" "MAIL FROM:<>" "RCPT TO:<rt1@sink.test>")
check_eq "trust-helo-localhost relays after EHLO localhost" "$(reply_code "$out" 4)" 250
out=$(smtp_talk $N.54 $T "EHLO localhost" "HELO [$N.54]" "EHLO t" "MAIL FROM:<>" "RCPT TO:<rt1@sink.test>")
check_eq "refuse-helo-self refuses greetings as itself, then is closed" \
	"$(cut -c1-3 <<<"$out" | tr '\n' ' ')" "220 550 550 250 250 554 "
sim_stop trust
sim_start_anyport anon --anonymous $N.55:PORT=closed || fail "anonymous starts" "no ready"
out=$(smtp_talk $N.55 $SIM_PORT "EHLO t")
check_eq "--anonymous names no host in the greeting" "$(head -1 <<<"$out")" "220 relaysim ESMTP relaysim"
sim_stop anon
