#!/bin/sh
# Runs every suite against one or more build directories and ends with one
# tally line, "N passed, N failed".  Non-zero exit on any failure.
#
#	check.sh [--only unit|conformance|e2e] [--valgrind] BUILDDIR...
only= vg=
while [ $# -gt 0 ]; do
	case $1 in
	--only) only=$2; shift 2 ;;
	--valgrind) vg="valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite,indirect"; shift ;;
	*) break ;;
	esac
done
DATA=tests/conformance/data
PY=/usr/bin/python3
pass=0 fail=0 bad=0
out=$(mktemp)
trap 'rm -f "$out"' EXIT

# Adds the counts of the last "N passed, N failed" line of $out.
tally() {
	line=$(grep -E '[0-9]+ passed, [0-9]+ failed' "$out" | tail -n 1)
	p=$(printf '%s\n' "$line" | grep -oE '[0-9]+ passed' | grep -oE '[0-9]+')
	f=$(printf '%s\n' "$line" | grep -oE '[0-9]+ failed' | grep -oE '[0-9]+')
	if [ -z "$line" ]; then p=0; f=1; fi
	pass=$((pass + p)); fail=$((fail + f))
}

# cmocka prints "[  PASSED  ] N test(s)." and "[  FAILED  ] N test(s)...".
cmocka_tally() {
	p=$(grep -E '^\[  PASSED  \] [0-9]+ test' "$out" | tail -n 1 | sed -E 's/[^0-9]*([0-9]+).*/\1/')
	f=$(grep -E '^\[  FAILED  \] [0-9]+ test' "$out" | tail -n 1 | sed -E 's/[^0-9]*([0-9]+).*/\1/')
	pass=$((pass + ${p:-0})); fail=$((fail + ${f:-0}))
	[ -n "$p$f" ] || fail=$((fail + 1))
}

for b in "$@"; do
	echo "== $b"
	if [ -z "$only" ] || [ "$only" = unit ]; then
		for t in "$b"/tests/test_*; do
			[ -x "$t" ] || continue
			$vg "$t" > "$out" 2>&1
			rc=$?
			cmocka_tally
			grep -E '^\[  (FAILED|  ERROR)' "$out" | head -n 20
			if [ $rc -ne 0 ] || grep -qE 'AddressSanitizer|runtime error:|LeakSanitizer' "$out"; then
				echo "FAIL $t (exit $rc)"; tail -n 30 "$out"; bad=1
			else
				echo "ok   $t"
			fi
		done
	fi
	if [ -z "$only" ] || [ "$only" = conformance ]; then
		for pair in "json-schema-suite:$DATA/json-schema/draft2020-12" \
		    "mustache-spec:$DATA/mustache"; do
			t="$b/tests/${pair%%:*}"
			[ -x "$t" ] || continue
			$vg "$t" "${pair#*:}" > "$out" 2>&1
			rc=$?
			tally
			grep -vE '^(PASS|SKIP)' "$out" | head -n 40
			if [ $rc -ne 0 ]; then echo "FAIL $t (exit $rc)"; bad=1; else echo "ok   $t"; fi
		done
	fi
	if [ -z "$only" ] || [ "$only" = e2e ]; then
		$PY tests/e2e/run.py "$b" > "$out" 2>&1
		rc=$?
		tally
		grep -v '^ok' "$out"
		[ $rc -eq 0 ] || bad=1
	fi
done
echo "$pass passed, $fail failed"
[ $fail -eq 0 ] && [ $bad -eq 0 ]
