#!/bin/sh
# Runs every suite against one or more build directories and ends with one
# tally line, "N passed, N failed, N skipped", after naming every skip and
# why.  Non-zero exit on any failure.
#
#	check.sh [--only unit|conformance|e2e|fuzz] [--valgrind]
#	    [--tsan TSANDIR] BUILDDIR...
#
# --tsan: the concurrency suite (tests/e2e/t_threads.py) once more
# against a ThreadSanitizer build; any TSan report fails it.
#
# A suite's skips are its lines "skip NAME: WHY" (e2e, t_*.py), cmocka's
# "[  SKIPPED ] NAME" and the conformance runners' "  skip: ..." lines.
# A cmocka program counts every test it announced ("Running N test(s)")
# that neither passed nor was skipped as failed: a failing group or test
# setup makes its tests vanish from cmocka's own tally.
only= vg= tsan=
while [ $# -gt 0 ]; do
	case $1 in
	--only) only=$2; shift 2 ;;
	--tsan) tsan=$2; shift 2 ;;
	--valgrind) vg="valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite,indirect"; shift ;;
	*) break ;;
	esac
done
DATA=tests/conformance/data
PY=/usr/bin/python3
pass=0 fail=0 skip=0 bad=0
out=$(mktemp) skips=$(mktemp)
trap 'rm -f "$out" "$skips"' EXIT

num() {
	printf '%s\n' "$1" | grep -oE "[0-9]+ $2" | grep -oE '[0-9]+' | head -n 1
}

# Adds the counts of the last "N passed, N failed[, N skipped]" line of
# $out; a suite that printed none counts as one failure.
tally() {
	line=$(grep -E '^([a-z0-9]+: )?[0-9]+ passed, [0-9]+ failed' "$out" | tail -n 1)
	p=$(num "$line" passed) f=$(num "$line" failed) s=$(num "$line" skipped)
	if [ -z "$line" ]; then p=0; f=1; fi
	pass=$((pass + p)); fail=$((fail + f)); skip=$((skip + ${s:-0}))
}

# cmocka: "Running N test(s)", "[  PASSED  ] N", "[  SKIPPED ] N"; the
# rest of the N failed, whatever cmocka says (a setup failure prints no
# FAILED count).
cmocka_tally() {
	n=$(grep -E '^\[==========\] Running [0-9]+ test' "$out" | head -n 1 | grep -oE '[0-9]+')
	p=$(grep -E '^\[  PASSED  \] [0-9]+ test' "$out" | tail -n 1 | grep -oE '[0-9]+' | head -n 1)
	s=$(grep -E '^\[  SKIPPED \] [0-9]+ test' "$out" | tail -n 1 | grep -oE '[0-9]+' | head -n 1)
	p=${p:-0} s=${s:-0}
	if [ -z "$n" ]; then n=$((p + s + 1)); fi
	f=$((n - p - s))
	[ $f -ge 0 ] || f=1
	[ $f -gt 0 ] || [ $1 -eq 0 ] || f=1
	pass=$((pass + p)); fail=$((fail + f)); skip=$((skip + s))
	grep -E '^\[  SKIPPED \] [^0-9]' "$out" | sed -E "s|^\[  SKIPPED \] (.*)|$2: \1: skip() called|" >> "$skips"
}

for b in "$@"; do
	echo "== $b"
	t0=$(date +%s)
	if [ -z "$only" ] || [ "$only" = unit ]; then
		for t in "$b"/tests/test_*; do
			[ -x "$t" ] || continue
			$vg "$t" > "$out" 2>&1
			rc=$?
			cmocka_tally $rc "$b/$(basename "$t")"
			grep -E '^\[  (FAILED|  ERROR)|^Could not run' "$out" | head -n 20
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
			if ! [ -x "$t" ]; then
				echo "FAIL $t: not built"; fail=$((fail + 1)); bad=1
				continue
			fi
			$vg "$t" "${pair#*:}" > "$out" 2>&1
			rc=$?
			tally
			grep -vE '^(PASS|SKIP|  skip:)' "$out" | head -n 40
			awk -v t="$b/${pair%%:*}" '/^PASS|^FAIL/ { f = $2 }
			    /^  skip: / { sub(/^  skip: /, ""); print t ": " f ": " $0 }' \
			    "$out" >> "$skips"
			if [ $rc -ne 0 ]; then echo "FAIL $t (exit $rc)"; bad=1; else echo "ok   $t"; fi
		done
	fi
	echo "time $(($(date +%s) - t0)) s: $b unit and conformance"
done
# The e2e suites of every build (and the concurrency suite under TSan)
# in one pool of CHECK_JOBS concurrent units (tests/e2e/run.py): the
# plain and the sanitizer builds' scripts overlap, most of each waiting
# on timeouts, sleeps and browsers.  Output per unit, whole, in the
# sequential order; the slowest units' times after it.
if [ -z "$only" ] || [ "$only" = e2e ]; then
	if [ -z "$only" ]; then
		# The fuzz targets build and run meanwhile, on what the
		# e2e units leave of the CPU.
		fout=$(mktemp)
		trap 'rm -f "$out" "$skips" "$fout" "$fout.rc"' EXIT
		( make --no-print-directory -s fuzz \
		    FUZZ_SECONDS="${FUZZ_CHECK_SECONDS:-5}" > "$fout" 2>&1
		  echo $? > "$fout.rc" ) &
		fpid=$!
	fi
	e2e0=$(date +%s)
	if [ -n "$tsan" ]; then
		$PY tests/e2e/run.py --tsan "$tsan" --builds "$*" > "$out" 2>&1
	else
		$PY tests/e2e/run.py --builds "$*" > "$out" 2>&1
	fi
	rc=$?
	tally
	grep -vE '^(ok|time )' "$out"
	echo "e2e: the slowest units (seconds):"
	grep -E '^time ' "$out" | grep -v 'e2e wall' | sort -k2,2 -n -r | head -n 12 | sed 's/^time /  /'
	grep -E '^time .*e2e wall' "$out" | sed 's/^time /  /'
	echo "time $(($(date +%s) - e2e0)) s: e2e, all builds (CHECK_JOBS=${CHECK_JOBS:-default})"
	# Skips named per build; the TSan run's are not counted (as before).
	awk '/^== e2e / { b = $3 } /^== tsan / { b = "" }
	    /^skip / && b != "" { sub(/^skip /, ""); print b " e2e: " $0 }' \
	    "$out" >> "$skips"
	[ $rc -eq 0 ] || bad=1
fi
# The libFuzzer targets, briefly (make fuzz runs them as long as asked):
# each run that ends without a crash or sanitizer report passes.
if [ -z "$only" ] || [ "$only" = fuzz ]; then
	echo "== fuzz (${FUZZ_CHECK_SECONDS:-5} s each)"
	t0=$(date +%s)
	if [ -n "${fpid:-}" ]; then
		wait "$fpid"
		cat "$fout" > "$out"
		rc=$(cat "$fout.rc" 2>/dev/null || echo 1)
	else
		make --no-print-directory -s fuzz \
		    FUZZ_SECONDS="${FUZZ_CHECK_SECONDS:-5}" > "$out" 2>&1
		rc=$?
	fi
	cat "$out" | grep -vE '^(clang|ar) ' | grep -v '^ ' | head -n 60
	n=$(grep -cE '^fuzz_[a-z0-9_]+ +stat::number_of_executed_units' "$out")
	pass=$((pass + n))
	[ $rc -eq 0 ] || { fail=$((fail + 1)); bad=1; }
	echo "time $(($(date +%s) - t0)) s: fuzz${fpid:+ (after e2e; it ran beside it)}"
fi
if [ -s "$skips" ]; then
	echo "skipped (named, with why):"
	awk '!seen[$0]++ { print "  " $0 }' "$skips"
fi
[ $bad -eq 0 ] || [ $fail -gt 0 ] || fail=1
echo "$pass passed, $fail failed, $skip skipped"
[ $fail -eq 0 ] && [ $bad -eq 0 ]
