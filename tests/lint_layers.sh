#!/bin/sh
# make lint: the layer rule of doc/hacking.md.  A file may include
# headers of its own folder and of lower layers only:
#
#	lib < core < state < up < fcgi/ top = handlers/ < console < main.c
#
# main.c is the program: it wires every layer together (the console's
# entry points, the spool's handler lookup), so it may include them all.
# A header is named by its folder ("core/conf.h") or, in its own folder
# or at the top, bare ("conf.h" inside core/, "route.h").  Prints each
# include that goes up a layer and exits 1 if there is one.
#
# usage: sh tests/lint_layers.sh [ROOT]
cd "${1:-.}" || exit 2

# Named exceptions, "file header" per line, each with why.  None is
# needed today; one added here must say why, and be reported.
EXCEPTIONS=''

rank() {
	case $1 in
	fcgi/main.c)		echo 6 ;;
	fcgi/lib/*)		echo 0 ;;
	fcgi/core/*)		echo 1 ;;
	fcgi/state/*)		echo 2 ;;
	fcgi/up/*)		echo 3 ;;
	fcgi/console/*)		echo 5 ;;
	fcgi/*|handlers/*)	echo 4 ;;
	*)			echo 9 ;;
	esac
}

# The file a written include names, as seen from file $1.
resolve() {
	d=$(dirname "$1")
	if [ -f "$d/$2" ]; then
		echo "$d/$2"
	elif [ -f "fcgi/$2" ]; then
		echo "fcgi/$2"
	elif [ -f "handlers/$2" ]; then
		echo "handlers/$2"
	fi
}

bad=0
for f in $(find fcgi handlers -name '*.[ch]' | sort); do
	fr=$(rank "$f")
	for h in $(sed -n 's/^#[[:space:]]*include[[:space:]]*"\([^"]*\)".*/\1/p' "$f"); do
		t=$(resolve "$f" "$h")
		[ -n "$t" ] || continue
		tr=$(rank "$t")
		[ "$tr" -le "$fr" ] && continue
		if printf '%s\n' "$EXCEPTIONS" | grep -qx "$f $h"; then
			continue
		fi
		echo "$f: includes $h ($t), a higher layer"
		bad=1
	done
done
[ $bad = 0 ] || echo "layer rule broken (doc/hacking.md)"
exit $bad
