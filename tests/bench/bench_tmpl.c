/*
 * Renders per second of two typical templates, parsed once:
 *  - wecom: the WeCom text layout, plain text, small context;
 *  - mail-2k: a ~2 KB HTML mail wrapper with a title, a body and a
 *    loop over 5 items, HTML-escaped.
 *
 * usage: bench_tmpl [-p] [seconds per case, default 1]
 *
 * -p prints each rendering once, to check what is being measured.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>

#include "lib/buf.h"
#include "lib/limits.h"
#include "lib/tmpl.h"
#include "lib/util.h"

#include "bench.h"

static const char wecom_src[] =
    "{{heading}}\n{{message}}\n{{#date}}Date: {{date}}\n{{/date}}{{remark}}";

static const char wecom_ctx[] =
    "{\"heading\":\"[ALERT] disk usage\","
    "\"message\":\"/var on db-3 is 93% full & growing\","
    "\"date\":\"2024-05-01 12:00:00\",\"remark\":\"ack by ops\"}";

static const char mail_src[] =
    "<!DOCTYPE html>\n"
    "<html lang=\"en\">\n"
    "<head>\n"
    "  <meta charset=\"utf-8\">\n"
    "  <meta name=\"viewport\" content=\"width=device-width, "
    "initial-scale=1\">\n"
    "  <title>{{title}}</title>\n"
    "  <style>\n"
    "    body { margin: 0; padding: 0; background: #f4f5f7; "
    "font-family: -apple-system, 'Segoe UI', Roboto, Helvetica, Arial, "
    "sans-serif; color: #172b4d; }\n"
    "    .wrap { max-width: 640px; margin: 24px auto; background: #ffffff; "
    "border: 1px solid #dfe1e6; border-radius: 4px; }\n"
    "    .head { padding: 16px 24px; border-bottom: 1px solid #dfe1e6; "
    "font-size: 18px; font-weight: 600; }\n"
    "    .body { padding: 16px 24px; font-size: 14px; line-height: 1.5; }\n"
    "    .items { margin: 12px 0; padding: 0; list-style: none; }\n"
    "    .items li { padding: 6px 0; border-bottom: 1px dashed #ebecf0; }\n"
    "    .items .k { display: inline-block; min-width: 120px; "
    "color: #5e6c84; }\n"
    "    .foot { padding: 12px 24px; font-size: 12px; color: #6b778c; "
    "border-top: 1px solid #dfe1e6; }\n"
    "    a { color: #0052cc; text-decoration: none; }\n"
    "  </style>\n"
    "</head>\n"
    "<body>\n"
    "  <table role=\"presentation\" width=\"100%\" cellspacing=\"0\" "
    "cellpadding=\"0\">\n"
    "    <tr>\n"
    "      <td>\n"
    "        <div class=\"wrap\">\n"
    "          <div class=\"head\">{{title}}</div>\n"
    "          <div class=\"body\">\n"
    "            <p>{{body}}</p>\n"
    "            <ul class=\"items\">\n"
    "            {{#items}}\n"
    "              <li><span class=\"k\">{{name}}</span> "
    "<span class=\"v\">{{value}}</span></li>\n"
    "            {{/items}}\n"
    "            </ul>\n"
    "            {{^items}}\n"
    "            <p>No details.</p>\n"
    "            {{/items}}\n"
    "            <p><a href=\"{{link}}\">Open in the console</a></p>\n"
    "          </div>\n"
    "          <div class=\"foot\">\n"
    "            This message was sent by the message gateway on behalf "
    "of {{app}}.\n"
    "            You receive it because you are on the on-call list of "
    "{{team}}; to stop these\n"
    "            notifications, change your subscription in the console "
    "or ask your team lead.\n"
    "            Please do not reply to this address: replies are not "
    "read by anyone.\n"
    "          </div>\n"
    "        </div>\n"
    "      </td>\n"
    "    </tr>\n"
    "  </table>\n"
    "</body>\n"
    "</html>\n";

static const char mail_ctx[] =
    "{\"title\":\"Weekly report <ops> & friends\","
    "\"body\":\"Everything is \\\"fine\\\": see the details below.\","
    "\"link\":\"https://console.example.org/r?id=42&t=x\","
    "\"app\":\"monitoring\",\"team\":\"SRE\","
    "\"items\":[{\"name\":\"host\",\"value\":\"db-3\"},"
    "{\"name\":\"disk\",\"value\":\"93% <critical>\"},"
    "{\"name\":\"since\",\"value\":\"2024-05-01 12:00\"},"
    "{\"name\":\"owner\",\"value\":\"O'Brien\"},"
    "{\"name\":\"ticket\",\"value\":\"OPS-1234\"}]}";

static int	 print;

/* Renders src over ctx for about secs seconds; returns renders/s. */
static int
bench(const char *label, const char *src, const char *ctxsrc,
    enum tmpl_esc esc, double secs)
{
	struct tmpl	*t;
	json_object	*ctx;
	struct buf	 out;
	char		 err[128];
	double		 start, el;
	long		 n = 0, i;
	size_t		 outlen = 0;

	if ((t = tmpl_parse(src, strlen(src), err, sizeof(err))) == NULL) {
		fprintf(stderr, "%s: %s\n", label, err);
		return -1;
	}
	if ((ctx = json_tokener_parse(ctxsrc)) == NULL) {
		fprintf(stderr, "%s: bad context\n", label);
		tmpl_free(t);
		return -1;
	}
	buf_init(&out, LIM_RENDER);
	start = bench_now();
	do {
		/* Batches keep the clock out of the measurement. */
		for (i = 0; i < 1000; i++) {
			buf_reset(&out);
			if (tmpl_render(t, ctx, esc, NULL, NULL, &out) == -1) {
				fprintf(stderr, "%s: render failed\n", label);
				goto out;
			}
		}
		n += i;
		el = bench_now() - start;
	} while (el < secs);
	outlen = out.len;
	if (print)
		printf("%s\n", out.ptr);
	printf("tmpl %s: %.0f renders/s (%zu bytes out, source %zu bytes)\n",
	    label, (double)n / el, outlen, strlen(src));
out:
	buf_free(&out);
	json_object_put(ctx);
	tmpl_free(t);
	return outlen > 0 ? 0 : -1;
}

int
main(int argc, char *argv[])
{
	double	 secs = 1.0;
	char	*end;

	if (argc > 1 && strcmp(argv[1], "-p") == 0) {
		print = 1;
		argc--;
		argv++;
	}
	if (argc > 1) {
		secs = strtod(argv[1], &end);
		if (argc > 2 || *end != '\0' || secs <= 0 || secs > 60) {
			fprintf(stderr, "usage: bench_tmpl [-p] [seconds]\n");
			return 2;
		}
	}
	if (bench("wecom", wecom_src, wecom_ctx, TMPL_ESC_NONE, secs) == -1 ||
	    bench("mail-2k", mail_src, mail_ctx, TMPL_ESC_HTML, secs) == -1)
		return 1;
	return 0;
}
