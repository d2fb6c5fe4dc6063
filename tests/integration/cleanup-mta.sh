#!/bin/bash
# Stops every private MTA instance left running under DIR (tests/run.sh calls
# this at the end, so a test that died mid-way leaves no Postfix behind).
# Only masters whose working directory is a queue under DIR are touched; the
# system instance never is.
#
#   tests/integration/cleanup-mta.sh DIR
set -u
dir=${1:?usage: cleanup-mta.sh DIR}
dir=$(cd "$dir" 2>/dev/null && pwd -P) || exit 0
. "$(dirname "$0")/../mta/postfix.sh"

stopped=0
while IFS= read -r pidfile; do
	queue=${pidfile%/pid/master.pid}
	inst=${queue%/queue}
	pid=$(sed -n '1s/ //gp' "$pidfile" 2>/dev/null)
	[[ $pid =~ ^[0-9]+$ ]] || continue
	[ "$(cat "/proc/$pid/comm" 2>/dev/null)" = master ] || continue
	[ "$(readlink "/proc/$pid/cwd" 2>/dev/null)" = "$queue" ] || continue
	if [ -f "$inst/etc/main.cf" ]; then
		postfix_stop "$inst"
	fi
	# Not ours to ask politely any more (config gone?): end that one master by its PID.
	[ -d "/proc/$pid" ] && kill -KILL "$pid" 2>/dev/null
	stopped=$((stopped + 1))
done < <(find "$dir" -maxdepth 10 -path '*/pid/master.pid' -type f 2>/dev/null | head -1000)
echo "cleanup-mta: stopped $stopped instance(s) under $dir"
