#!/bin/bash
# The shipped enforcer hooks: argument checking, the log-only hook's
# "applying twice is a no-op", the nftables hook's commands (dry run only:
# tests never touch the machine's firewall), and the runner with no
# smarthost writing mails to outbox_dir.
SUITE=workflow_enforcers
. "$(dirname "$0")/workflow_lib.sh"

LOGONLY=$ROOT/deploy/enforcers/log-only
NFT=$ROOT/deploy/enforcers/nftables

for args in "block" "block 192.0.2.1 port25_inbound" "drop 192.0.2.1 port25_inbound 1" \
	"block 192.0.2.1;reboot port25_inbound 1" "block 192.0.2.1 firewall 1" \
	"block 192.0.2.1 port25_inbound 1x" "block 192.0.2.1 port25_inbound 1 extra"; do
	# shellcheck disable=SC2086
	echo '{}' | "$LOGONLY" $args >/dev/null 2>&1
	rc1=$?
	# shellcheck disable=SC2086
	echo '{}' | RELAYAUDIT_NFT_DRYRUN=1 "$NFT" $args >/dev/null 2>&1
	rc2=$?
	check_eq "bad_args_refused: $args" "$rc1 $rc2" "2 2"
done

export RELAYAUDIT_ENFORCER_LOG=$TEST_TMP/hooks.log
echo '{}' | RELAYAUDIT_ACTION_KEY=case:1:ev:1:block "$LOGONLY" block 192.0.2.1 port25_inbound 1
echo '{}' | RELAYAUDIT_ACTION_KEY=case:1:ev:1:block "$LOGONLY" block 192.0.2.1 port25_inbound 1
check_eq log_only_same_key_applies_once "$(grep -c ' applied block 192.0.2.1 ' "$RELAYAUDIT_ENFORCER_LOG") $(grep -c ' repeat ' "$RELAYAUDIT_ENFORCER_LOG")" "1 1"

out=$(echo '{}' | RELAYAUDIT_NFT_DRYRUN=1 "$NFT" block 192.0.2.1 port25_inbound 7)
check_eq nft_block_v4 "$out" "nft add element inet relayaudit port25_inbound_v4 { 192.0.2.1 }"
out=$(echo '{}' | RELAYAUDIT_NFT_DRYRUN=1 "$NFT" block 2001:db8::25 smarthost 7)
check_eq nft_block_v6_smarthost "$out" "nft add element inet relayaudit smarthost_v6 { 2001:db8::25 }"
out=$(echo '{}' | RELAYAUDIT_NFT_DRYRUN=1 "$NFT" escalate 192.0.2.1 port25_inbound 7)
check_eq nft_escalate "$out" "nft add element inet relayaudit escalated_v4 { 192.0.2.1 }"
out=$(echo '{}' | RELAYAUDIT_NFT_DRYRUN=1 NFT_TABLE="ip abuse" "$NFT" unblock 192.0.2.1 port25_inbound 7 | tr '\n' '|')
check_eq nft_unblock_both_sets "$out" "nft delete element ip abuse port25_inbound_v4 { 192.0.2.1 }|nft delete element ip abuse escalated_v4 { 192.0.2.1 }|"

# No smarthost: the mail lands in outbox_dir, once.
wf_setup

wf_config smarthost=
export RELAYAUDIT_ENFORCER_LOG=$WF_ENFORCER_LOG
wf_probe accepted_not_relayed >/dev/null
"$RELAYCTL" workflow run --once -c "$WF_CONF" >"$TEST_TMP/once.log" 2>&1
check_eq once_exits_zero "$?" 0
files=$(ls "$TEST_TMP/$SUITE.outbox" 2>/dev/null)
check_eq outbox_file_written "$files" "$(sql "SELECT id FROM outbox")-suspicious.eml"
check_contains outbox_file_is_a_message "$(cat "$TEST_TMP/$SUITE.outbox/"*.eml)" "Auto-Submitted: auto-generated"
# Customer data and a working re-test link: owner-only file in an owner-only folder.
check_eq outbox_file_and_folder_are_private "$(stat -c %a "$TEST_TMP/$SUITE.outbox/"*.eml) $(stat -c %a "$TEST_TMP/$SUITE.outbox")" "600 700"
check_eq suspicious_does_not_block "$(wf_case "state || ' ' || blocked") $(wf_applied block)" "notified false 0"
check_eq suspicious_reprobes_sooner "$(sql "SELECT next_probe_at < now() + interval '6 hours 1 minute' FROM targets")" t
"$RELAYCTL" workflow run --once -c "$WF_CONF" >>"$TEST_TMP/once.log" 2>&1
check_eq outbox_file_once "$(ls "$TEST_TMP/$SUITE.outbox" | wc -l) $(sql "SELECT state FROM outbox")" "1 done"
