#!/bin/bash
# An enforcer hook that hangs (and ignores TERM, with a child of its own)
# holds up only its own action: the case's mail still goes out, another
# address's block still runs, SIGTERM stops the runner within seconds, the
# hook's whole process group is killed, and the action is retried later.
SUITE=workflow_hang
. "$(dirname "$0")/workflow_lib.sh"

HOOK=$TEST_TMP/$SUITE.hook
HOOKDIR=$TEST_TMP/$SUITE.hookdir
mkdir -p "$HOOKDIR"
cat >"$HOOK" <<EOF
#!/bin/bash
# Hangs on the addresses listed in hang; applies anything else at once.
if grep -qx "\$2" "$HOOKDIR/hang"; then
	trap '' TERM
	echo \$\$ >"$HOOKDIR/hook.pid"
	sleep 1000 &
	echo \$! >"$HOOKDIR/child.pid"
	wait
fi
echo "\$1 \$2" >>"$HOOKDIR/applied"
EOF
chmod 755 "$HOOK"
echo "$WF_ADDR" >"$HOOKDIR/hang"

wf_setup
OTHER=192.0.2.26
sql "INSERT INTO targets (customer_id, address, next_probe_at)
     SELECT id, '$OTHER', now() + interval '7 days' FROM customers WHERE ext_id = 'cust-1'" >/dev/null
wf_capture
WF_HOOK=$HOOK wf_config enforcer_timeout=1h
wf_start

wf_probe relay_confirmed >/dev/null
wait_for 20 test -s "$HOOKDIR/hook.pid"
check_eq hook_is_hanging "$(kill -0 "$(cat "$HOOKDIR/hook.pid" 2>/dev/null)" 2>/dev/null && echo running)" running
wait_for 20 wf_eq wf_mails 1
check_eq mail_flows_while_the_hook_hangs "$(wf_mails)" 1

# Another address's block runs while the first hook still hangs.
WF_ADDR=$OTHER wf_probe relay_confirmed >/dev/null
wait_for 20 wf_eq "sql \"SELECT state FROM enforcement_actions WHERE address = '$OTHER'\"" done
check_eq other_address_block_runs_beside_the_hanging_hook \
	"$(cat "$HOOKDIR/applied" 2>/dev/null) $(sql "SELECT state FROM enforcement_actions WHERE address = '$OTHER'")" "block $OTHER done"

# SIGTERM: out within a few seconds, the hook's process group gone.
start=$SECONDS
kill -TERM "$RUNNER_PID"
for _ in $(seq 50); do kill -0 "$RUNNER_PID" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$RUNNER_PID" 2>/dev/null; then
	fail term_obeyed_within_5s "still running after $((SECONDS - start)) s"
	kill -9 "$RUNNER_PID"
else
	pass term_obeyed_within_5s
fi
wait "$RUNNER_PID" 2>/dev/null
check_eq runner_exits_cleanly_on_term "$?" 0
RUNNER_PID=
both_gone() { ! kill -0 "$(cat "$HOOKDIR/hook.pid")" 2>/dev/null && ! kill -0 "$(cat "$HOOKDIR/child.pid")" 2>/dev/null; }
wait_for 5 both_gone
check_eq hook_and_its_child_are_killed "$(both_gone && echo gone)" gone
check_contains interrupted_action_is_pending_again \
	"$(sql "SELECT state || ' ' || last_error FROM enforcement_actions WHERE address = '$WF_ADDR'")" "pending interrupted"

# Restarted with a hook that works: the interrupted block is applied.
wf_config
wf_start
applied_here() { grep -c " applied block $WF_ADDR " "$WF_ENFORCER_LOG" 2>/dev/null || echo 0; }
applied_and_done() { [ "$(applied_here) $(sql "SELECT state FROM enforcement_actions WHERE address = '$WF_ADDR'")" = "1 done" ]; }
# The hook logs before the runner records it done: wait for both.
wait_for 20 applied_and_done
check_eq interrupted_action_runs_after_restart "$(applied_here) $(sql "SELECT state FROM enforcement_actions WHERE address = '$WF_ADDR'")" "1 done"
wf_stop

# The daemon runs the same loop as its workflow role: TERM is obeyed there too.
THIRD=192.0.2.27
echo "$THIRD" >"$HOOKDIR/hang"
rm -f "$HOOKDIR/hook.pid" "$HOOKDIR/child.pid"
sql "INSERT INTO targets (customer_id, address, next_probe_at)
     SELECT id, '$THIRD', now() + interval '7 days' FROM customers WHERE ext_id = 'cust-1'" >/dev/null
WF_HOOK=$HOOK wf_config enforcer_timeout=1h roles=workflow shutdown_grace=60s log_level=info
"$RELAYAUDITD" -c "$WF_CONF" >>"$TEST_TMP/$SUITE.daemon.log" 2>&1 &
DPID=$!
BG_PIDS+=($DPID)
WF_ADDR=$THIRD wf_probe relay_confirmed >/dev/null
wait_for 20 test -s "$HOOKDIR/hook.pid"
check_eq daemon_hook_is_hanging "$(kill -0 "$(cat "$HOOKDIR/hook.pid" 2>/dev/null)" 2>/dev/null && echo running)" running
kill -TERM "$DPID"
for _ in $(seq 50); do kill -0 "$DPID" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$DPID" 2>/dev/null; then
	fail daemon_term_obeyed_within_5s "still running after 5 s"
	kill -9 "$DPID"
else
	pass daemon_term_obeyed_within_5s
fi
wait "$DPID" 2>/dev/null
check_eq daemon_exits_0_on_term "$?" 0
wait_for 5 both_gone
check_eq daemon_hook_and_its_child_are_killed "$(both_gone && echo gone)" gone
check_contains daemon_interrupted_action_is_pending_again \
	"$(sql "SELECT state || ' ' || last_error FROM enforcement_actions WHERE address = '$THIRD'")" "pending interrupted"
