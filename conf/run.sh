#!/bin/sh
# make run: lighttpd in the foreground on 127.0.0.1:$PORT spawning the app.
set -eu
builddir=$1 port=$2 conf=$3
top=$(pwd)
case $conf in /*) ;; *) conf="$top/$conf" ;; esac
base="$top/var/run"
mkdir -p "$base/htdocs" "$base/tmp"
"$top/$builddir/cmsi.fcgi" -t -c "$conf"
sed -e "s|@BASE@|$base|g" -e "s|@PORT@|$port|g" \
    -e "s|@BIN@|$top/$builddir/cmsi.fcgi|g" -e "s|@CONF@|$conf|g" \
    -e "s|@PROCS@|2|g" -e "s|@MAXREQ@|8192|g" -e 's|^server.breakagelog.*||' \
    "$top/conf/lighttpd.conf.in" > "$base/lighttpd.conf"
echo "cmsi: http://127.0.0.1:$port/api/c/compapi/ (config $conf); console: http://127.0.0.1:$port/console/; Ctrl-C stops"
exec /usr/sbin/lighttpd -D -f "$base/lighttpd.conf"
