/*
 * The floor for pipeline.py's send_sms row: the bare responder closing
 * at once (bare_fcgi_now.c) that also makes, per request, the one HTTPS
 * call a send_sms makes: a SendSms-shaped POST to the same nginx on a
 * kept connection (bench_tc3.h), answering 200 only when nginx did.  No
 * schema, signature, template, audit or log line: what a gateway that
 * did nothing but relay would cost through the same lighttpd.
 *
 * lighttpd gives its children CMSI_CONF (conf/lighttpd.conf.in); this
 * reads the file it names for "bench_https": {url, ca, connect_to, body}.
 * Without it, every request is answered 502 (it is read once).
 */
#include <stdio.h>
#include <stdlib.h>

#include <curl/curl.h>
#include <json.h>

#include "bench_tc3.h"
#include "core/conf.h"

static struct bench_tc3	 bare_tc3;	/* process scope: keeps the connection */
static int		 bare_tc3_state; /* 0 not yet, 1 set up, -1 failed */
static json_object	*bare_conf;	/* owned for the process's life */

/* Set up on the first request: lighttpd has set CMSI_CONF by then. */
static int
bare_https_call(void)
{
	json_object	*o;
	const char	*path, *url, *ca, *to, *body;

	if (bare_tc3_state == 0) {
		bare_tc3_state = -1;
		if ((path = getenv("CMSI_CONF")) == NULL ||
		    (bare_conf = json_object_from_file(path)) == NULL ||
		    !json_object_object_get_ex(bare_conf, "bench_https", &o) ||
		    *(url = conf_str(o, "url")) == '\0' ||
		    *(ca = conf_str(o, "ca")) == '\0' ||
		    *(to = conf_str(o, "connect_to")) == '\0' ||
		    *(body = conf_str(o, "body")) == '\0' ||
		    bench_tc3_init(&bare_tc3, url, ca, to, body) == -1)
			return -1;
		bare_tc3_state = 1;
	}
	return bare_tc3_state == 1 ? bench_tc3_call(&bare_tc3) : -1;
}

#define BARE_CLOSE_NOW
#define BARE_CALL()	bare_https_call()
#include "bare_fcgi.c"
