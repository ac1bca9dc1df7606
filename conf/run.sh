#!/bin/sh
# make run: lighttpd in the foreground on 127.0.0.1:$PORT spawning the app.
set -eu
builddir=$1 port=$2 conf=$3
top=$(pwd)
case $conf in /*) ;; *) conf="$top/$conf" ;; esac
# Runtime files (sockets, pid, lighttpd.conf, logs) per port: two make
# run from one checkout on two ports must not share sockets, or each
# answers with the other's config.  One already on this port is left
# alone.
case $port in ''|*[!0-9]*) echo "run.sh: PORT must be a number, not '$port'" >&2; exit 2 ;; esac
base="$top/var/run/$port"
if [ -f "$base/lighttpd.pid" ] && kill -0 "$(cat "$base/lighttpd.pid")" 2>/dev/null; then
	echo "run.sh: a make run on port $port is running already (pid $(cat "$base/lighttpd.pid")); stop it or choose another PORT" >&2
	exit 1
fi
mkdir -p "$base/htdocs" "$base/tmp"
"$top/$builddir/cmsi.fcgi" -t -c "$conf"
sed -e "s|@BASE@|$base|g" -e "s|@PORT@|$port|g" \
    -e "s|@BIN@|$top/$builddir/cmsi.fcgi|g" -e "s|@CONF@|$conf|g" \
    -e "s|@PROCS@|2|g" -e "s|@MAXREQ@|8192|g" -e 's|^server.breakagelog.*||' \
    "$top/conf/lighttpd.conf.in" > "$base/lighttpd.conf"
echo "cmsi: http://127.0.0.1:$port/api/c/compapi/ (config $conf); console: http://127.0.0.1:$port/console/; Ctrl-C stops"
exec /usr/sbin/lighttpd -D -f "$base/lighttpd.conf"
