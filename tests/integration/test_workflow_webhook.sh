#!/bin/bash
# The webhook: every case event the real workflow runner writes reaches a
# receiver on loopback once, signed (HMAC-SHA-256 over the body) and with the
# event id as idempotency key; a 500 is retried with backoff, and after
# webhook_max_attempts the event stays failed; a runner killed with -9 and
# started again delivers no event twice and loses none.
SUITE=workflow_webhook
. "$(dirname "$0")/workflow_lib.sh"

DATA=$ROOT/tests/unit/data/arf
HOOK_LOG=$TEST_TMP/$SUITE.hook.jsonl
HOOK_FAIL=$TEST_TMP/$SUITE.hook.fail
HOOK_KEY=webhook-test-key-0123456789
report() { sed "s/__ADDR__/$2/g" "$DATA/$1"; }
complaint() { report "$1" "$WF_ADDR" | "$RELAYCTL" complaint -c "$WF_CONF" --mail - >/dev/null 2>>"$TEST_TMP/$SUITE.err"; }

# Summaries of the receiver's log, for the checks and wait_for.
hook() {
	python3 - "$HOOK_LOG" "$1" <<'PY'
import collections, json, sys
recs = [json.loads(l) for l in open(sys.argv[1])] if __import__("os").path.exists(sys.argv[1]) else []
ok = [r for r in recs if r["status"] < 300]
what = sys.argv[2]
if what == "ok": print(len(ok))
elif what == "ok_ids": print(",".join(sorted(str(r["body"]["event_id"]) for r in ok)))
elif what == "dups": print(",".join(k for k, n in collections.Counter(r["event_id"] for r in ok).items() if n > 1))
elif what == "bad_sig": print(sum(1 for r in recs if not r["signature_ok"]))
elif what == "bad_key": print(sum(1 for r in recs if r["idempotency_key"] != "relayaudit-event-" + str(r["body"]["event_id"]) or r["event_id"] != str(r["body"]["event_id"])))
elif what == "500s": print(sum(1 for r in recs if r["status"] == 500))
elif what.startswith("tries:"): print(sum(1 for r in recs if r["event_id"] == what[6:]))
elif what.startswith("first:"):
    r = next(r for r in ok if r["body"]["kind"] == what[6:])
    b = r["body"]
    print(r["content_type"], b["kind"], b["actor"], b["address"], b["state"], b["finding"], b["customer"], "Z" in b["time"])
PY
}
events() { sql "SELECT coalesce(string_agg(id::text, ',' ORDER BY id::text), '') FROM case_events"; }
settled() { [ "$(sql "SELECT count(*) FROM webhook_deliveries WHERE state IN ('pending', 'running')")" = 0 ]; }

wf_setup
wf_capture
rm -f "$HOOK_LOG"; echo 0 >"$HOOK_FAIL"
python3 "$ROOT/tests/integration/webhook_receiver.py" --listen "$WF_IP" --portfile "$TEST_TMP/$SUITE.hook.port" \
	--log "$HOOK_LOG" --key "$HOOK_KEY" --fail-file "$HOOK_FAIL" --hang-file "$TEST_TMP/$SUITE.hang" &
BG_PIDS+=("$!")
wait_for 30 test -s "$TEST_TMP/$SUITE.hook.port" || { fail setup "webhook receiver did not start"; exit 1; }
echo "$HOOK_KEY" >"$TEST_TMP/$SUITE.key"
wf_config "webhook_url=http://$WF_IP:$(cat "$TEST_TMP/$SUITE.hook.port")/relayaudit" \
	"webhook_secret_file=$TEST_TMP/$SUITE.key" webhook_timeout=5s webhook_max_attempts=3
wf_start

# A complaint: the case opens blocked, a mail goes out; each event is sent once.
complaint arf-rfc5965.eml
wait_for 30 wf_eq wf_mails 1
wait_for 30 settled
wait_for 15 wf_eq "hook ok_ids" "$(events)"
check_eq every_event_delivered_once "$(hook ok_ids)" "$(events)"
check_eq complaint_events_arrived "$(sql "SELECT count(*) >= 2 FROM case_events")" t
check_eq no_event_twice "$(hook dups)" ""
check_eq signatures_valid "$(hook bad_sig)" 0
check_eq idempotency_key_is_event_id "$(hook bad_key)" 0
check_eq complaint_event_body "$(hook first:complaint)" \
	"application/json complaint relayctl $WF_ADDR blocked complaint cust-1 True"

# The receiver answers 500 twice: retried with backoff, then delivered once.
echo 2 >"$HOOK_FAIL"
before=$(hook ok)
complaint xarf.eml
wait_for 30 wf_eq "sql 'SELECT count(*) FROM complaints WHERE processed_at IS NULL'" 0
wait_for 60 settled
wait_for 15 wf_eq "hook ok_ids" "$(events)"
check_eq answered_500_twice "$(hook 500s)" 2
check_eq retried_events_delivered_once "$(hook ok_ids)" "$(events)"
check_eq no_event_twice_after_retries "$(hook dups)" ""
check_eq retries_recorded "$(sql "SELECT max(attempts) > 1 AND bool_and(state = 'done') FROM webhook_deliveries")" t
check_eq more_events_after_second_complaint "$(($(hook ok) > before))" 1

# A receiver that keeps failing: after webhook_max_attempts the event stays failed.
echo 1000 >"$HOOK_FAIL"
case_id=$(wf_case id)
sql "INSERT INTO case_commands (case_id, command, note, actor) VALUES ($case_id, 'note', 'webhook down', 'token:desk')" >/dev/null
wait_for 30 wf_eq "sql \"SELECT count(*) FROM case_events WHERE event = 'note'\"" 1
note_id=$(sql "SELECT id FROM case_events WHERE event = 'note'")
wait_for 60 wf_eq "sql \"SELECT state FROM webhook_deliveries WHERE event_id = $note_id\"" failed
check_eq gives_up_after_max_attempts "$(sql "SELECT state || ' ' || attempts || ' ' || last_error FROM webhook_deliveries WHERE event_id = $note_id")" \
	"failed 3 gave up after 3 attempts: HTTP status 500"
check_eq receiver_saw_three_tries "$(hook "tries:$note_id")" 3
echo 0 >"$HOOK_FAIL"

# kill -9 and start again, with events written while it was down: none lost, none twice.
wf_kill9
complaint arf-rfc5965.eml
wf_start
wait_for 30 wf_eq "sql 'SELECT count(*) FROM complaints WHERE processed_at IS NULL'" 0
wait_for 60 settled
want=$(sql "SELECT coalesce(string_agg(event_id::text, ',' ORDER BY event_id::text), '') FROM webhook_deliveries WHERE state = 'done'")
wait_for 15 wf_eq "hook ok_ids" "$want"
check_eq after_restart_every_event_once "$(hook ok_ids)" "$want"
check_eq after_restart_none_lost "$(sql "SELECT count(*) FROM case_events e LEFT JOIN webhook_deliveries w ON w.event_id = e.id
	WHERE w.state IS DISTINCT FROM 'done' AND e.id <> $note_id")" 0
check_eq after_restart_no_event_twice "$(hook dups)" ""
check_eq after_restart_signatures_valid "$(hook bad_sig)" 0

# A receiver that never answers does not hold up a stop: TERM ends the runner
# at once, not after webhook_timeout, and the event is handed back, not lost.
: >"$TEST_TMP/$SUITE.hang"
sql "INSERT INTO case_commands (case_id, command, note, actor) VALUES ($case_id, 'note', 'receiver hangs', 'token:desk')" >/dev/null
wait_for 30 grep -q hanging "$TEST_TMP/$SUITE.hang"
start=$SECONDS
wf_stop
check_eq stop_not_held_by_hanging_receiver "$(((SECONDS - start) < 3))" 1
check_eq hanging_event_handed_back "$(sql "SELECT w.state FROM webhook_deliveries w JOIN case_events e ON e.id = w.event_id
	WHERE e.detail->>'note' = 'receiver hangs'")" pending
