#!/bin/bash
# Every locale says everything English says: the same words.txt keys and the
# same mail templates, so no customer gets a sentence or a mail in a language
# they did not choose, or a key name instead of a sentence.
. "$(dirname "$0")/../lib.sh"

keys() { grep -Eo '^[a-z][a-z0-9_.-]* *=' "$1" | tr -d ' =' | sort; }
files() { (cd "$1" && ls | sort); }
for dir in "$ROOT"/templates/*/; do
	loc=$(basename "$dir")
	[ "$loc" = en ] && continue
	check_eq "$loc has every word English has" \
		"$(comm -23 <(keys "$ROOT/templates/en/words.txt") <(keys "$dir/words.txt") | tr '\n' ' ')" ""
	check_eq "$loc has no word English lacks" \
		"$(comm -13 <(keys "$ROOT/templates/en/words.txt") <(keys "$dir/words.txt") | tr '\n' ' ')" ""
	check_eq "$loc has every template English has" \
		"$(comm -23 <(files "$ROOT/templates/en") <(files "$dir") | tr '\n' ' ')" ""
done
check_eq "refusal reasons have words" "$(keys "$ROOT/templates/en/words.txt" | grep -c '^refusal\.')" 4
n=$(keys "$ROOT/templates/en/words.txt" | wc -l)
if [ "$n" -gt 50 ]; then pass "English words read ($n)"; else fail "English words read" "got $n keys"; fi
