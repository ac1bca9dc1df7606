/*
 * Tencent Cloud request signatures: API 3.0's
 * TC3-HMAC-SHA256 and the legacy v5 "sig".  GnuTLS gives the hash and
 * the HMAC, so no other crypto library is linked.  The signing key
 * derived from a secret holds for one service and one UTC day, so the
 * last one is kept (beside the secret it came from, which the config
 * holds anyway): three of the four HMACs of a request are saved, as
 * the scheme intends.  Other intermediate keys are wiped after use.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>

#include "lib/limits.h"
#include "tc3.h"

#define TC3_ALGO	"TC3-HMAC-SHA256"
#define TC3_SIGNED	"content-type;host"

static void
tc3_hex(const unsigned char *p, size_t n, char *out)
{
	static const char	 hex[] = "0123456789abcdef";
	size_t			 i;

	for (i = 0; i < n; i++) {
		out[2 * i] = hex[p[i] >> 4];
		out[2 * i + 1] = hex[p[i] & 0xf];
	}
	out[2 * n] = '\0';
}

/* Lower-case hex SHA-256 of p.  Returns 0, or -1 if GnuTLS refused. */
int
tc3_sha256_hex(const void *p, size_t n, char out[TC3_HEX])
{
	unsigned char	 md[32];

	if (gnutls_hash_fast(GNUTLS_DIG_SHA256, p, n, md) < 0)
		return -1;
	tc3_hex(md, sizeof(md), out);
	return 0;
}

static int
tc3_hmac(const void *key, size_t keylen, const char *msg, unsigned char *md)
{
	return gnutls_hmac_fast(GNUTLS_MAC_SHA256, key, keylen, msg,
	    strlen(msg), md) < 0 ? -1 : 0;
}

/*
 * The signing key of secret, date and service, from the last call when
 * they are the same.  Returns 0, or -1 when too long or HMAC failed.
 */
static int
tc3_signing_key(const char *secret, const char *date, const char *service,
    unsigned char out[32])
{
	static __thread struct {
		char		 secret[LIM_SECRET];
		char		 date[16];
		char		 service[64];
		unsigned char	 k[32];
		int		 set;
	}		 memo;			/* thread scope */
	char		 key[LIM_SECRET + 4];
	unsigned char	 k1[32], k2[32];
	int		 n, rc = -1;

	if (memo.set && strcmp(memo.secret, secret) == 0 &&
	    strcmp(memo.date, date) == 0 && strcmp(memo.service, service) == 0) {
		memcpy(out, memo.k, 32);
		return 0;
	}
	explicit_bzero(&memo, sizeof(memo));
	n = snprintf(key, sizeof(key), "TC3%s", secret);
	if (n < 0 || (size_t)n >= sizeof(key))
		goto out;
	/* Each step keys the next with the previous raw digest. */
	if (tc3_hmac(key, (size_t)n, date, k1) == -1 ||
	    tc3_hmac(k1, sizeof(k1), service, k2) == -1 ||
	    tc3_hmac(k2, sizeof(k2), "tc3_request", out) == -1)
		goto out;
	if (strlen(secret) < sizeof(memo.secret) &&
	    strlen(date) < sizeof(memo.date) &&
	    strlen(service) < sizeof(memo.service)) {
		snprintf(memo.secret, sizeof(memo.secret), "%s", secret);
		snprintf(memo.date, sizeof(memo.date), "%s", date);
		snprintf(memo.service, sizeof(memo.service), "%s", service);
		memcpy(memo.k, out, 32);
		memo.set = 1;
	}
	rc = 0;
out:
	explicit_bzero(key, sizeof(key));
	explicit_bzero(k1, sizeof(k1));
	explicit_bzero(k2, sizeof(k2));
	return rc;
}

/*
 * Signs one API 3.0 POST.  The canonical request names exactly the two
 * headers we send (content-type, host) with the values we send, and
 * the hash of the body bytes as they go on the wire: a body re-encoded
 * after signing, a different charset or a port in Host all break it.
 * Returns 0 with every step in sig, or -1 when an input is too long
 * or hashing failed.
 */
int
tc3_sign(const struct tc3_req *r, struct tc3_sig *sig)
{
	char		 creq[1024], sts[512], scope[128];
	unsigned char	 k3[32], md[32];
	time_t		 t = (time_t)r->timestamp;
	struct tm	 tm;
	int		 n, rc = -1;

	memset(sig, 0, sizeof(*sig));
	if (gmtime_r(&t, &tm) == NULL ||
	    strftime(sig->date, sizeof(sig->date), "%Y-%m-%d", &tm) == 0)
		return -1;
	if (tc3_sha256_hex(r->body, r->bodylen, sig->payload_hash) == -1)
		return -1;
	n = snprintf(creq, sizeof(creq), "POST\n/\n\ncontent-type:%s\n"
	    "host:%s\n\n%s\n%s", r->content_type, r->host, TC3_SIGNED,
	    sig->payload_hash);
	if (n < 0 || (size_t)n >= sizeof(creq) ||
	    tc3_sha256_hex(creq, (size_t)n, sig->creq_hash) == -1)
		return -1;
	n = snprintf(scope, sizeof(scope), "%s/%s/tc3_request", sig->date,
	    r->service);
	if (n < 0 || (size_t)n >= sizeof(scope))
		return -1;
	n = snprintf(sts, sizeof(sts), "%s\n%lld\n%s\n%s", TC3_ALGO,
	    r->timestamp, scope, sig->creq_hash);
	if (n < 0 || (size_t)n >= sizeof(sts))
		return -1;
	if (tc3_signing_key(r->secret_key, sig->date, r->service, k3) == -1 ||
	    tc3_hmac(k3, sizeof(k3), sts, md) == -1)
		goto out;
	tc3_hex(md, sizeof(md), sig->signature);
	n = snprintf(sig->authorization, sizeof(sig->authorization),
	    "%s Credential=%s/%s, SignedHeaders=%s, Signature=%s", TC3_ALGO,
	    r->secret_id, scope, TC3_SIGNED, sig->signature);
	if (n < 0 || (size_t)n >= sizeof(sig->authorization))
		goto out;
	rc = 0;
out:
	explicit_bzero(k3, sizeof(k3));
	if (rc == -1)
		memset(sig, 0, sizeof(*sig));
	return rc;
}

/*
 * The v5 "sig": SHA-256 of appkey, the URL's random, the body's time
 * and the mobiles joined by commas in body order; NULL mobile leaves
 * the mobile part out (statistics calls).  Returns 0 or -1.
 */
int
tc3_v5sig(const char *appkey, const char *rnd, long long tm,
    const char *mobile, char out[TC3_HEX])
{
	char	 text[LIM_V5_SIGTEXT];
	int	 n, rc;

	if (mobile != NULL)
		n = snprintf(text, sizeof(text),
		    "appkey=%s&random=%s&time=%lld&mobile=%s", appkey, rnd, tm,
		    mobile);
	else
		n = snprintf(text, sizeof(text),
		    "appkey=%s&random=%s&time=%lld", appkey, rnd, tm);
	if (n < 0 || (size_t)n >= sizeof(text)) {
		explicit_bzero(text, sizeof(text));
		return -1;
	}
	rc = tc3_sha256_hex(text, (size_t)n, out);
	explicit_bzero(text, sizeof(text));
	return rc;
}
