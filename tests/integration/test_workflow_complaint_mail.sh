#!/bin/bash
# Complaints by mail: an ARF or X-ARF report piped into `relayctl complaint
# --mail -` is filed like an API complaint, so the real workflow runner blocks
# the customer's address and schedules a re-test; the report is kept as
# evidence. A report that cannot be filed is refused with a reason and kept
# whole in the quarantine directory. Reports about unknown addresses are recorded.
SUITE=workflow_complaint_mail
. "$(dirname "$0")/workflow_lib.sh"

DATA=$ROOT/tests/unit/data/arf
QDIR=$TEST_TMP/$SUITE.quarantine
report() { sed "s/__ADDR__/$2/g" "$DATA/$1"; }

wf_setup
wf_capture
wf_config "complaint_quarantine_dir=$QDIR"
wf_start

out=$(report arf-rfc5965.eml "$WF_ADDR" | "$RELAYCTL" complaint -c "$WF_CONF" --mail - 2>"$TEST_TMP/$SUITE.err")
check_eq arf_report_is_filed "$?" 0
check_contains arf_reply_names_the_address "$out" "\"address\" : \"$WF_ADDR\""
check_contains arf_reply_knows_the_target "$out" '"known_target" : true'
wait_for 15 wf_eq "wf_applied block" 1
check_eq arf_complaint_blocks_the_case "$(wf_case "state || ' ' || finding || ' ' || blocked")" "blocked complaint true"
case_id=$(wf_case id)
check_eq arf_complaint_schedules_a_retest \
	"$(sql "SELECT count(*) FROM retest_requests WHERE case_id = $case_id AND done_at IS NULL")" 1
check_eq arf_target_is_due_with_retest_priority "$(sql "SELECT priority || ' ' || (next_probe_at <= now()) FROM targets")" "3 true"
check_eq arf_report_kept_as_evidence \
	"$(sql "SELECT (raw LIKE '%Feedback-Type: abuse%Spam Spam Spam%') || ' ' || source || ' ' || actor FROM complaints")" \
	"true arf abuse from fbl@mailbox.example (Source-IP) relayctl"
check_eq arf_complaint_in_case_timeline \
	"$(sql "SELECT count(*) FROM case_events e JOIN complaints c ON (e.detail->>'complaint_id')::bigint = c.id
	        WHERE e.case_id = $case_id AND e.event = 'complaint' AND e.actor = 'relayctl'")" 1

# X-ARF from a file: a second complaint on the blocked case asks for another re-test.
report xarf.eml "$WF_ADDR" >"$TEST_TMP/$SUITE.xarf.eml"
"$RELAYCTL" complaint -c "$WF_CONF" --mail "$TEST_TMP/$SUITE.xarf.eml" >/dev/null 2>"$TEST_TMP/$SUITE.err"
check_eq xarf_report_is_filed "$?" 0
wait_for 15 wf_eq "sql 'SELECT count(*) FROM complaints WHERE processed_at IS NULL'" 0
check_eq xarf_complaint_on_the_same_case \
	"$(sql "SELECT source || ' ' || case_id FROM complaints WHERE source LIKE 'x-arf%'")" \
	"x-arf abuse from reports@abuse-desk.example (Source) $case_id"

# An address no customer has: recorded, not dropped.
out=$(report arf-received-only.eml 198.51.100.7 | "$RELAYCTL" complaint -c "$WF_CONF" --mail - 2>"$TEST_TMP/$SUITE.err")
check_eq unknown_address_report_is_filed "$?" 0
check_contains unknown_address_reply_says_so "$out" '"known_target" : false'
wait_for 15 wf_eq "sql 'SELECT count(*) FROM complaints WHERE processed_at IS NULL'" 0
check_eq unknown_address_complaint_recorded \
	"$(sql "SELECT count(*) FROM complaints WHERE address = '198.51.100.7' AND raw LIKE '%Loop/2.0%'")" 1

# Malformed reports: refused (65) with the reason, kept byte for byte with a .why beside it.
before=$(sql "SELECT count(*) FROM complaints")
report not-a-report.eml "$WF_ADDR" >"$TEST_TMP/$SUITE.bad.eml"
"$RELAYCTL" complaint -c "$WF_CONF" --mail - <"$TEST_TMP/$SUITE.bad.eml" >/dev/null 2>"$TEST_TMP/$SUITE.err"
check_eq malformed_report_is_refused "$?" 65
check_contains malformed_report_refusal_says_why "$(cat "$TEST_TMP/$SUITE.err")" "refused: not a feedback report"
kept=$(ls "$QDIR"/*.eml 2>/dev/null | head -1)
if [ -n "$kept" ] && cmp -s "$kept" "$TEST_TMP/$SUITE.bad.eml"; then
	pass malformed_report_kept_whole_in_quarantine
else
	fail malformed_report_kept_whole_in_quarantine "got '$(ls "$QDIR" 2>&1)', want a copy of the report"
fi
check_contains quarantine_keeps_the_reason "$(cat "${kept%.eml}.why" 2>/dev/null)" "not a feedback report"
check_eq malformed_report_files_nothing "$(sql "SELECT count(*) FROM complaints")" "$before"

report arf-bad-source.eml x | "$RELAYCTL" complaint -c "$WF_CONF" --mail - >/dev/null 2>"$TEST_TMP/$SUITE.err"
check_eq bad_source_ip_is_refused "$?" 65
check_eq two_reports_in_quarantine "$(ls "$QDIR"/*.eml | wc -l) $(ls "$QDIR"/*.why | wc -l)" "2 2"

# Larger than complaints.raw may hold: refused, but the whole input is kept.
{ report arf-rfc5965.eml "$WF_ADDR"; head -c 1100000 /dev/zero | tr '\0' 'x'; } >"$TEST_TMP/$SUITE.big.eml"
"$RELAYCTL" complaint -c "$WF_CONF" --mail - <"$TEST_TMP/$SUITE.big.eml" >/dev/null 2>"$TEST_TMP/$SUITE.err"
check_eq oversized_report_is_refused "$?" 65
big_kept=$(grep -l 'larger than 1 MiB' "$QDIR"/*.why | head -1)
check_eq oversized_report_kept_whole "$(stat -c %s "${big_kept%.why}.eml" 2>/dev/null)" "$(stat -c %s "$TEST_TMP/$SUITE.big.eml")"

# Nowhere to keep it: the MTA is told to try again later (75), nothing is lost.
wf_config "complaint_quarantine_dir=/proc/no-such-dir"
report not-a-report.eml "$WF_ADDR" | "$RELAYCTL" complaint -c "$WF_CONF" --mail - >/dev/null 2>"$TEST_TMP/$SUITE.err"
check_eq unkept_refusal_asks_to_retry "$?" 75
wf_stop
