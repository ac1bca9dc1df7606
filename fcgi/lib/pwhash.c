/*
 * Console password hashes: PBKDF2-HMAC-SHA256 from GnuTLS with a
 * random salt, in a self-describing string (pwhash.h).  Pure but for
 * the random salt; cmsi.fcgi --hash-password and the sign-in use it.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gnutls/gnutls.h>
#include <gnutls/crypto.h>

#include "limits.h"
#include "pwhash.h"
#include "util.h"

#define PWHASH_TAG	"pbkdf2-sha256$"

static int
derive(const char *pw, size_t n, const unsigned char *salt, size_t saltlen,
    unsigned long iter, unsigned char *out, size_t outlen)
{
	gnutls_datum_t	 k, s;

	k.data = (unsigned char *)(uintptr_t)pw;
	k.size = (unsigned int)n;
	s.data = (unsigned char *)(uintptr_t)salt;
	s.size = (unsigned int)saltlen;
	return gnutls_pbkdf2(GNUTLS_MAC_SHA256, &k, &s, (unsigned)iter, out,
	    outlen) == 0 ? 0 : -1;
}

/*
 * Hashes the n bytes of pw with a fresh salt into out (outsz bytes,
 * LIM_PWHASH is enough).  Returns 0, or -1 on a GnuTLS failure, an
 * empty or oversized password, or a short out.
 */
int
pwhash_make(const char *pw, size_t n, char *out, size_t outsz)
{
	unsigned char	 salt[PWHASH_SALT], key[PWHASH_KEY];
	char		*s64 = NULL, *k64 = NULL;
	size_t		 len;
	int		 rc = -1;

	if (n == 0 || n > LIM_PASSWORD)
		return -1;
	if (gnutls_rnd(GNUTLS_RND_KEY, salt, sizeof(salt)) != 0 ||
	    derive(pw, n, salt, sizeof(salt), PWHASH_ITER, key,
	    sizeof(key)) == -1)
		goto out;
	b64_encode(salt, sizeof(salt), 0, &s64, &len);
	b64_encode(key, sizeof(key), 0, &k64, &len);
	if (snprintf(out, outsz, PWHASH_TAG "%d$%s$%s", PWHASH_ITER, s64,
	    k64) >= (int)outsz)
		goto out;
	rc = 0;
out:
	explicit_bzero(key, sizeof(key));
	free(s64);
	free(k64);
	return rc;
}

/* Strict base64 of one field: the alphabet, then at most two '='. */
static int
field64(const char *s, size_t n, unsigned char *out, size_t outsz,
    size_t *outlen)
{
	char	*dec = NULL;
	size_t	 i, len;

	if (n == 0 || n % 4 != 0)
		return -1;
	for (i = 0; i < n; i++)
		if (strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
		    "0123456789+/", s[i]) == NULL || s[i] == '\0')
			break;
	if (n - i > 2 || strspn(s + i, "=") != n - i)
		return -1;
	if (b64_decode(s, n, &dec, &len) == -1)
		return -1;
	if (len == 0 || len > outsz) {
		free(dec);
		return -1;
	}
	memcpy(out, dec, len);
	*outlen = len;
	free(dec);
	return 0;
}

/*
 * Parses a hash string into ph (may be NULL to only check it).  Returns
 * 0, or -1 when s is not one pwhash_make could have written (with a
 * cost between PWHASH_ITER_MIN and PWHASH_ITER_MAX).
 */
int
pwhash_parse(const char *s, struct pwhash *ph)
{
	struct pwhash	 tmp;
	const char	*p, *d1, *d2;
	char		 num[16];
	long long	 it;

	if (ph == NULL)
		ph = &tmp;
	memset(ph, 0, sizeof(*ph));
	if (s == NULL || strlen(s) >= LIM_PWHASH ||
	    strncmp(s, PWHASH_TAG, strlen(PWHASH_TAG)) != 0)
		return -1;
	p = s + strlen(PWHASH_TAG);
	if ((d1 = strchr(p, '$')) == NULL || (d2 = strchr(d1 + 1, '$')) == NULL
	    || strchr(d2 + 1, '$') != NULL || (size_t)(d1 - p) >= sizeof(num))
		return -1;
	memcpy(num, p, (size_t)(d1 - p));
	num[d1 - p] = '\0';
	if (num_parse(num, PWHASH_ITER_MIN, PWHASH_ITER_MAX, &it) == -1)
		return -1;
	ph->iter = (unsigned long)it;
	if (field64(d1 + 1, (size_t)(d2 - d1 - 1), ph->salt, sizeof(ph->salt),
	    &ph->saltlen) == -1 || ph->saltlen < 8 ||
	    field64(d2 + 1, strlen(d2 + 1), ph->key, sizeof(ph->key),
	    &ph->keylen) == -1 || ph->keylen < 16)
		return -1;
	return 0;
}

/*
 * Whether the n bytes of pw match hash.  Returns 1 on a match, 0 when
 * it does not, -1 when the hash is malformed.  The keys are compared
 * in constant time.
 */
int
pwhash_verify(const char *pw, size_t n, const char *hash)
{
	struct pwhash	 ph;
	unsigned char	 key[64];
	unsigned char	 diff = 0;
	size_t		 i;

	if (pwhash_parse(hash, &ph) == -1)
		return -1;
	if (n > LIM_PASSWORD)
		return 0;
	if (derive(pw, n, ph.salt, ph.saltlen, ph.iter, key, ph.keylen) == -1)
		return -1;
	for (i = 0; i < ph.keylen; i++)
		diff |= key[i] ^ ph.key[i];
	explicit_bzero(key, sizeof(key));
	return diff == 0 && n > 0;
}

/*
 * The config's check of a console user's password_hash (conf_checks):
 * 0, or -1 when it is no string pwhash_make could have written.
 */
int
pwhash_conf_check(json_object *v, char *why, size_t n)
{
	if (pwhash_parse(json_object_get_string(v), NULL) == -1) {
		snprintf(why, n, "no string of cmsi.fcgi --hash-password");
		return -1;
	}
	return 0;
}
