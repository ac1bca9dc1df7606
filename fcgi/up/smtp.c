/*
 * SMTP submission with libcurl (RFC 5321): one easy handle per
 * process keeps the connection open between messages; TLS is either
 * implicit (smtps) or STARTTLS that is required, never attempted; AUTH
 * only with a user and a password.  One transaction carries every
 * recipient, and libcurl is told to go on past a refused one, so the
 * RCPT replies are read from its debug stream to know who was refused.
 */
#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/conf.h"
#include "core/http.h"
#include "core/log.h"
#include "core/metrics.h"
#include "lib/limits.h"
#include "lib/util.h"
#include "smtp.h"

/* Renamed with two L in libcurl 8.2; 7.88 only knows three. */
#ifndef CURLOPT_MAIL_RCPT_ALLOWFAILS
#define CURLOPT_MAIL_RCPT_ALLOWFAILS	CURLOPT_MAIL_RCPT_ALLLOWFAILS
#endif

#define SMTP_LINE	512		/* one reply line we look at */

/* The state of one transfer, shared by the callbacks. */
struct smtp_xfer {
	const struct smtp_msg	*m;	/* borrowed */
	struct smtp_res		*res;	/* borrowed */
	size_t			 off;	/* bytes of m->data given to libcurl */
	size_t			 nrcpt_out; /* RCPT commands sent so far */
	long			 pending; /* RCPT awaiting its reply, or -1 */
	int			 replies; /* final reply lines seen */
	int			 quit;	/* QUIT sent: its reply tells nothing */
	char			 line[SMTP_LINE]; /* a reply line in pieces */
	size_t			 linelen;
};

static size_t
smtp_read(char *p, size_t sz, size_t n, void *arg)
{
	struct smtp_xfer	*x = arg;
	size_t			 want = sz * n, left = x->m->len - x->off;

	if (want > left)
		want = left;
	memcpy(p, x->m->data + x->off, want);
	x->off += want;
	return want;
}

/* "250 2.1.5 Ok": the enhanced status code after the reply code. */
static void
smtp_status(const char *s, char *out, size_t outsz)
{
	size_t	 n = 0;
	int	 dots = 0;

	out[0] = '\0';
	if (!isdigit((unsigned char)s[0]) || s[1] != '.')
		return;
	while (n + 1 < outsz && (isdigit((unsigned char)s[n]) ||
	    s[n] == '.')) {
		if (s[n] == '.')
			dots++;
		n++;
	}
	if (dots != 2 || (s[n] != ' ' && s[n] != '\0' && s[n] != '\r'))
		return;
	memcpy(out, s, n);
	out[n] = '\0';
}

/* One reply line: the last line of a reply ends a command's answer. */
static void
smtp_reply_line(struct smtp_xfer *x, const char *l)
{
	int	 code;

	if (!isdigit((unsigned char)l[0]) || !isdigit((unsigned char)l[1]) ||
	    !isdigit((unsigned char)l[2]))
		return;
	if (l[3] == '-')
		return;
	code = (l[0] - '0') * 100 + (l[1] - '0') * 10 + (l[2] - '0');
	x->replies++;
	x->res->code = code;
	smtp_status(l[3] == ' ' ? l + 4 : "", x->res->status,
	    sizeof(x->res->status));
	if (x->pending >= 0) {
		x->res->rcpt_code[x->pending] = code;
		x->pending = -1;
	}
}

/*
 * libcurl's protocol trace.  Commands are sequential, so the reply
 * after "RCPT TO" answers that recipient.  What we send is only looked
 * at for that prefix and never kept: it holds AUTH's credentials.
 */
static int
smtp_debug(CURL *h, curl_infotype t, char *p, size_t n, void *arg)
{
	struct smtp_xfer	*x = arg;
	size_t			 i;

	(void)h;
	/* Between sends (QUIT at cleanup) there is no transfer to note. */
	if (x == NULL)
		return 0;
	if (t == CURLINFO_HEADER_OUT) {
		if (n >= 8 && strncasecmp(p, "RCPT TO:", 8) == 0 &&
		    x->nrcpt_out < x->m->nrcpt)
			x->pending = (long)x->nrcpt_out++;
		if (n >= 4 && strncasecmp(p, "QUIT", 4) == 0)
			x->quit = 1;
		return 0;
	}
	if (t != CURLINFO_HEADER_IN || x->quit)
		return 0;
	for (i = 0; i < n; i++) {
		if (p[i] == '\n') {
			x->line[x->linelen] = '\0';
			smtp_reply_line(x, x->line);
			x->linelen = 0;
		} else if (p[i] != '\r' && x->linelen + 1 < sizeof(x->line))
			x->line[x->linelen++] = p[i];
	}
	return 0;
}

/*
 * The addr-spec of "addr" or "Name <addr>" for the envelope, into out.
 * Returns 0, or -1 when it is empty, too long or holds a byte that
 * could end or bend an SMTP command (controls, space, <>, quotes).
 */
int
smtp_addr(const char *s, char *out, size_t outsz)
{
	const char	*lt, *gt, *p;
	size_t		 n;

	for (p = s; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			return -1;
	lt = strrchr(s, '<');
	if (lt != NULL) {
		gt = strchr(lt, '>');
		if (gt == NULL || gt[1] != '\0')
			return -1;
		s = lt + 1;
		n = (size_t)(gt - s);
	} else {
		while (*s == ' ' || *s == '\t')
			s++;
		n = strlen(s);
		while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
			n--;
	}
	if (n < 3 || n >= outsz)
		return -1;
	for (p = s; p < s + n; p++)
		if (*p == ' ' || *p == '\t' || strchr("<>\"\\,;", *p) != NULL)
			return -1;
	p = memchr(s, '@', n);
	if (p == NULL || p == s || p == s + n - 1)
		return -1;
	memcpy(out, s, n);
	out[n] = '\0';
	return 0;
}

/*
 * smtp[s]://host:port/<our name for EHLO>.  Returns 0, or -1 when the
 * configured host is not a host name or an address.
 */
static char		 me[256];	/* this host's name, for EHLO */
static pthread_once_t	 me_once = PTHREAD_ONCE_INIT;

/* Written once by the first thread that needs it, then only read. */
static void
me_init(void)
{
	const char	*p;

	if (gethostname(me, sizeof(me)) == -1)
		me[0] = '\0';
	me[sizeof(me) - 1] = '\0';
	for (p = me; *p != '\0'; p++)
		if (!isalnum((unsigned char)*p) && *p != '-' && *p != '.')
			break;
	if (*p != '\0' || me[0] == '\0')
		str_copy(me, "localhost", sizeof(me));
}

static int
smtp_url(json_object *sec, char *url, size_t urlsz)
{
	const char	*host = conf_str(sec, "smtp_host"), *p;
	long		 port = conf_int(sec, "smtp_port", 25);
	int		 v6 = strchr(host, ':') != NULL, k;

	if (*host == '\0')
		return -1;
	for (p = host; *p != '\0'; p++)
		if (!isalnum((unsigned char)*p) && strchr(v6 ? ":." : "-._",
		    *p) == NULL)
			return -1;
	pthread_once(&me_once, me_init);
	/* ESB: int(value or 25). */
	if (port == 0)
		port = 25;
	k = snprintf(url, urlsz, "%s://%s%s%s:%ld/%s",
	    conf_bool(sec, "smtp_usessl") ? "smtps" : "smtp", v6 ? "[" : "",
	    host, v6 ? "]" : "", port, me);
	return k > 0 && (size_t)k < urlsz ? 0 : -1;
}

/*
 * This thread's handle, kept for its connection while the server, its
 * security and the login stay what they were: a saved change (ticking
 * smtp_usetls, another host or password) closes the kept connection,
 * so nothing more goes out under the settings it was opened with.
 */
static CURL *
smtp_handle(const struct conf *c, json_object *sec)
{
	static const char *const keys[] = {
		"smtp_host", "smtp_port", "smtp_usessl", "smtp_usetls",
		"smtp_user", "smtp_pwd", NULL
	};
	CURL		*h;
	uint64_t	 fp = http_fingerprint(c);
	char		 n[32];
	size_t		 i;
	int		 fresh;

	for (i = 0; keys[i] != NULL; i++) {
		fp = http_fingerprint_add(fp, conf_str(sec, keys[i]));
		snprintf(n, sizeof(n), "%d", conf_bool(sec, keys[i]));
		fp = http_fingerprint_add(fp, n);
	}
	h = http_smtp_handle(c, fp, &fresh);
	if (h == NULL || !fresh)
		return h;
	curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
	curl_easy_setopt(h, CURLOPT_READFUNCTION, smtp_read);
	curl_easy_setopt(h, CURLOPT_DEBUGFUNCTION, smtp_debug);
	curl_easy_setopt(h, CURLOPT_VERBOSE, 1L);
	curl_easy_setopt(h, CURLOPT_MAIL_RCPT_ALLOWFAILS, 1L);
	curl_easy_setopt(h, CURLOPT_SASL_IR, 1L);
	curl_easy_setopt(h, CURLOPT_SERVER_RESPONSE_TIMEOUT,
	    (c->timeout_ms + 999) / 1000);
	if (c->proxy != NULL)
		curl_easy_setopt(h, CURLOPT_HTTPPROXYTUNNEL, 1L);
	return h;
}

/*
 * Settings of this message: where, how secured, who logs in, sender and
 * recipients.  The recipient list is the caller's to free after use.
 */
static int
smtp_setup(CURL *h, json_object *sec, const struct smtp_msg *m,
    struct curl_slist **rcpt)
{
	char		 url[LIM_PATH], from[SMTP_ADDR + 2];
	const char	*user = conf_str(sec, "smtp_user");
	const char	*pwd = conf_str(sec, "smtp_pwd");
	size_t		 i;
	int		 tls;

	if (smtp_url(sec, url, sizeof(url)) == -1)
		return -1;
	/* Required, never tried: TRY would send AUTH in the clear. */
	tls = conf_bool(sec, "smtp_usessl") || conf_bool(sec, "smtp_usetls");
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_USE_SSL, tls ? (long)CURLUSESSL_ALL :
	    (long)CURLUSESSL_NONE);
	if (*user != '\0' && *pwd != '\0') {
		curl_easy_setopt(h, CURLOPT_USERNAME, user);
		curl_easy_setopt(h, CURLOPT_PASSWORD, pwd);
	} else {
		curl_easy_setopt(h, CURLOPT_USERNAME, NULL);
		curl_easy_setopt(h, CURLOPT_PASSWORD, NULL);
	}
	snprintf(from, sizeof(from), "<%s>", m->from);
	curl_easy_setopt(h, CURLOPT_MAIL_FROM, from);
	*rcpt = NULL;
	for (i = 0; i < m->nrcpt; i++)
		*rcpt = curl_slist_append(*rcpt, m->rcpt[i]);
	curl_easy_setopt(h, CURLOPT_MAIL_RCPT, *rcpt);
	curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)m->len);
	return 0;
}

static void
smtp_log(const struct smtp_msg *m, const struct smtp_res *res,
    const char *err)
{
	size_t	 i, ok = 0;

	for (i = 0; i < m->nrcpt; i++)
		if (res->rcpt_code[i] >= 200 && res->rcpt_code[i] < 300)
			ok++;
	if (res->sent)
		log_info("%s: smtp: sent, reply %ld%s%s, %zu of %zu "
		    "recipients accepted, %s connection%s", m->id, res->code,
		    res->status[0] != '\0' ? " " : "", res->status, ok,
		    m->nrcpt, res->reused ? "reused" : "new",
		    res->retried ? " after a retry" : "");
	else
		log_warnx("%s: smtp: not sent: %s (curl %d), reply %ld%s%s, "
		    "%zu of %zu recipients accepted%s", m->id, err, res->cc,
		    res->code, res->status[0] != '\0' ? " " : "", res->status,
		    ok, m->nrcpt, res->retried ? ", after a retry" : "");
}

/*
 * Sends one message to every recipient in one transaction.  Returns 0
 * when the server took it (res->rcpt_code then says who was refused),
 * -1 when it did not.  res is the caller's to free with smtp_res_free.
 */
int
smtp_send(const struct conf *c, json_object *sec, const struct smtp_msg *m,
    struct smtp_res *res)
{
	struct smtp_xfer	 x;
	struct curl_slist	*rcpt = NULL;
	char			 err[CURL_ERROR_SIZE];
	CURL			*h;
	long			 nconn = 0;
	double			 secs = 0;
	int			 try;

	memset(res, 0, sizeof(*res));
	res->rcpt_code = xcalloc(m->nrcpt > 0 ? m->nrcpt : 1, sizeof(int));
	res->cc = CURLE_FAILED_INIT;
	err[0] = '\0';
	if ((h = smtp_handle(c, sec)) == NULL ||
	    smtp_setup(h, sec, m, &rcpt) == -1) {
		str_copy(err, h == NULL ? "no libcurl handle" :
		    "smtp_host is not a host name", sizeof(err));
		goto out;
	}
	memset(&x, 0, sizeof(x));
	x.m = m;
	x.res = res;
	curl_easy_setopt(h, CURLOPT_READDATA, &x);
	curl_easy_setopt(h, CURLOPT_DEBUGDATA, &x);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, err);
	for (try = 0; try < 2; try++) {
		x.off = x.nrcpt_out = x.linelen = 0;
		x.pending = -1;
		x.replies = x.quit = 0;
		memset(res->rcpt_code, 0, m->nrcpt * sizeof(int));
		res->code = 0;
		res->status[0] = '\0';
		err[0] = '\0';
		res->cc = curl_easy_perform(h);
		curl_easy_getinfo(h, CURLINFO_TOTAL_TIME, &secs);
		metrics_upstream(MC_SMTP, secs, res->cc != CURLE_OK);
		curl_easy_getinfo(h, CURLINFO_NUM_CONNECTS, &nconn);
		res->reused = nconn == 0;
		/*
		 * A kept TLS connection the server closed meanwhile fails
		 * before any reply (libcurl reuses it blindly): nothing was
		 * delivered, so one more try on a new connection is safe.
		 */
		if (res->cc == CURLE_OK || !res->reused || x.replies > 0 ||
		    (res->cc != CURLE_SEND_ERROR &&
		    res->cc != CURLE_RECV_ERROR &&
		    res->cc != CURLE_GOT_NOTHING))
			break;
		res->retried = 1;
		curl_easy_setopt(h, CURLOPT_FRESH_CONNECT, 1L);
	}
	curl_easy_setopt(h, CURLOPT_FRESH_CONNECT, 0L);
	res->sent = res->cc == CURLE_OK;
	if (err[0] == '\0')
		str_copy(err, curl_easy_strerror(res->cc), sizeof(err));
out:
	if (h != NULL) {
		/* Nothing of this call may outlive it in the handle. */
		curl_easy_setopt(h, CURLOPT_MAIL_RCPT, NULL);
		curl_easy_setopt(h, CURLOPT_READDATA, NULL);
		curl_easy_setopt(h, CURLOPT_DEBUGDATA, NULL);
		curl_easy_setopt(h, CURLOPT_ERRORBUFFER, NULL);
	}
	http_smtp_put(h);
	curl_slist_free_all(rcpt);
	smtp_log(m, res, err);
	return res->sent ? 0 : -1;
}

void
smtp_res_free(struct smtp_res *res)
{
	free(res->rcpt_code);
	res->rcpt_code = NULL;
}
