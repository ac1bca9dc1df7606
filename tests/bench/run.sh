#!/bin/sh
# make bench: every benchmark, each printing its own numbers.  Nothing
# here passes or fails on time.  pipeline.py first: its one table (the
# app's rows next to the bare responder's, issue 18) is the headline.
b=${1:-build}
/usr/bin/python3 tests/bench/pipeline.py "$b"
for t in "$b"/tests/bench_*; do
	[ -x "$t" ] && "$t"
done
for s in tests/bench/*.py; do
	[ "$s" = tests/bench/pipeline.py ] && continue
	/usr/bin/python3 "$s" "$b"
done
