/*
 * The floor to compare against (issue 18): a bare libfcgi responder that
 * reads the whole body, parses it with json-c and answers a fixed JSON
 * envelope; nothing else.  A body that is not JSON gets a 400, so a
 * benchmark that sends the wrong bytes sees non-2xx answers instead of
 * a floor that parsed nothing.  tests/bench/pipeline.py runs it behind
 * the same lighttpd setup as the app, and straight over FastCGI.
 *
 * Built as is it closes the way libfcgi does by default: shutdown, then
 * wait for the web server to hang up.  bare_fcgi_now.c builds it with
 * BARE_CLOSE_NOW, closing at once after reading the body to its end as
 * cmsi.fcgi does: the same close on both sides of a ratio.
 * bare_fcgi_https.c adds the one HTTPS call a send_sms makes (BARE_CALL).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <fcgiapp.h>
#include <json.h>

#define BARE_MAX	(1 << 20)	/* bodies above are cut (never sent) */

#ifndef BARE_CALL
#define BARE_CALL()	0		/* the upstream call: none */
#endif

int
main(void)
{
	FCGX_Request	 r;
	json_object	*doc;
	char		*buf;
	size_t		 len;
	int		 n;
	const char	*ok = "{\"result\": true, \"code\": 0, \"message\": "
	    "\"Succeeded to send mail\", \"data\": null}";
	const char	*bad = "{\"result\": false, \"code\": 1306201, "
	    "\"message\": \"the body is not JSON\", \"data\": null}";
	const char	*upfail = "{\"result\": false, \"code\": 1306203, "
	    "\"message\": \"the upstream call failed\", \"data\": null}";
	const char	*body, *status;

	if ((buf = malloc(BARE_MAX + 1)) == NULL)
		return 1;
	FCGX_Init();
	FCGX_InitRequest(&r, 0, 0);
	while (FCGX_Accept_r(&r) >= 0) {
		len = 0;
		while (len < BARE_MAX && (n = FCGX_GetStr(buf + len,
		    (int)(BARE_MAX - len), r.in)) > 0)
			len += (size_t)n;
		buf[len] = '\0';
		doc = json_tokener_parse(buf);
		if (doc == NULL) {
			body = bad;
			status = "400 Bad Request";
		} else if (BARE_CALL() == -1) {
			body = upfail;
			status = "502 Bad Gateway";
		} else {
			body = ok;
			status = "200 OK";
		}
		json_object_put(doc);
		FCGX_FPrintF(r.out, "Status: %s\r\nContent-Type: "
		    "application/json\r\nContent-Length: %d\r\n\r\n%s",
		    status, (int)strlen(body), body);
#ifdef BARE_CLOSE_NOW
		FCGX_Detach(&r);
#endif
		FCGX_Finish_r(&r);
	}
	free(buf);
	return 0;
}
