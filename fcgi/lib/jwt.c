/*
 * The X-Bkapi-Jwt that BlueKing's API gateway puts on every request it
 * proxies (its bk-jwt plugin): RS512 over header.payload, signed with
 * the gateway's private key, "kid" the gateway's name, the payload
 * {iss, nbf, exp, app {app_code, verified}, user {username, verified}}.
 * The gateway strips X-Bkapi-Authorization before proxying, so behind
 * it this token is the only word on who is calling.  Pure apart from
 * GnuTLS: no I/O, the clock passed in.
 */
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gnutls/abstract.h>
#include <gnutls/gnutls.h>
#include <json-c/json.h>

#include "jwt.h"
#include "util.h"

#define JWT_LEEWAY	60	/* seconds of clock skew forgiven */

/*
 * Strict unpadded base64url (RFC 7515 2): any byte outside its alphabet
 * fails.  It becomes padded standard base64 for b64_decode.  Returns 0
 * with *out (caller frees, NUL added) and *outlen, or -1.
 */
static int
b64url_decode(const char *s, size_t n, unsigned char **out, size_t *outlen)
{
	char	*t;
	size_t	 i;
	int	 rc;

	if (n % 4 == 1)
		return -1;
	t = xmalloc(n + 4);
	for (i = 0; i < n; i++) {
		if (s[i] == '-')
			t[i] = '+';
		else if (s[i] == '_')
			t[i] = '/';
		else if (isalnum((unsigned char)s[i]))
			t[i] = s[i];
		else {
			free(t);
			return -1;
		}
	}
	while (i % 4 != 0)
		t[i++] = '=';
	t[i] = '\0';
	rc = b64_decode(t, i, (char **)out, outlen);
	free(t);
	return rc;
}

/* A base64url segment holding one JSON object, or NULL.  Caller puts. */
static json_object *
segment(const char *s, size_t n)
{
	unsigned char	*d;
	size_t		 dn;
	json_object	*o;

	if (b64url_decode(s, n, &d, &dn) == -1)
		return NULL;
	o = jv_parse((const char *)d, dn);
	free(d);
	if (o != NULL && !json_object_is_type(o, json_type_object)) {
		json_object_put(o);
		o = NULL;
	}
	return o;
}

/* The gateway's public key from PEM, or NULL.  Caller deinits. */
static gnutls_pubkey_t
key_load(const char *pem)
{
	gnutls_pubkey_t	 key;
	gnutls_datum_t	 d;

	if (gnutls_pubkey_init(&key) < 0)
		return NULL;
	d.data = (unsigned char *)(uintptr_t)pem;
	d.size = (unsigned int)strlen(pem);
	if (gnutls_pubkey_import(key, &d, GNUTLS_X509_FMT_PEM) < 0 ||
	    gnutls_pubkey_get_pk_algorithm(key, NULL) != GNUTLS_PK_RSA) {
		gnutls_pubkey_deinit(key);
		return NULL;
	}
	return key;
}

/*
 * The config's check of gateway.public_key (conf_checks): 0, or -1
 * when the string is no RSA public key (the loader words the line).
 */
int
jwt_conf_check(json_object *v, char *why, size_t n)
{
	if (jwt_key_check(json_object_get_string(v)) == -1) {
		snprintf(why, n, "not an RSA public key in PEM");
		return -1;
	}
	return 0;
}

/* Whether pem is an RSA public key the gateway could sign for. */
int
jwt_key_check(const char *pem)
{
	gnutls_pubkey_t	 key;

	if ((key = key_load(pem)) == NULL)
		return -1;
	gnutls_pubkey_deinit(key);
	return 0;
}

/*
 * Whether hdr's field k is the string want.  A field of another type
 * (null, a number, an object) is a mismatch like a wrong value: the
 * token is bad, and nothing reads a string json-c does not have.
 */
static int
field_is(json_object *o, const char *k, const char *want)
{
	json_object	*v;

	return json_object_object_get_ex(o, k, &v) &&
	    json_object_is_type(v, json_type_string) &&
	    strcmp(json_object_get_string(v), want) == 0;
}

/*
 * A claim's number (exp, nbf) into *t, or def when it is absent.
 * -1 when it is there but not a number: a bad token.
 */
static int
claim_time(json_object *payload, const char *k, long long def,
    long long *t)
{
	json_object	*v;

	*t = def;
	if (!json_object_object_get_ex(payload, k, &v))
		return 0;
	if (!json_object_is_type(v, json_type_int) &&
	    !json_object_is_type(v, json_type_double))
		return -1;
	*t = json_object_get_int64(v);
	return 0;
}

/*
 * {name, verified} of the app or the user object into out.  Absent is
 * nobody; present with a field of the wrong type is -1, a bad token.
 */
static int
claim_who(json_object *payload, const char *obj, const char *namekey,
    char *out, size_t outsz, int *verified)
{
	json_object	*o, *v;

	out[0] = '\0';
	*verified = 0;
	if (!json_object_object_get_ex(payload, obj, &o))
		return 0;
	if (!json_object_is_type(o, json_type_object))
		return -1;
	if (json_object_object_get_ex(o, namekey, &v)) {
		if (!json_object_is_type(v, json_type_string) ||
		    str_copy(out, json_object_get_string(v), outsz) == -1) {
			out[0] = '\0';
			return -1;
		}
	}
	if (json_object_object_get_ex(o, "verified", &v)) {
		if (!json_object_is_type(v, json_type_boolean))
			return -1;
		*verified = json_object_get_boolean(v);
	}
	return 0;
}

/*
 * Verifies token with the gateway's key pem at time now: RS512 only,
 * kid equal to the gateway's name when kid is not NULL, inside its
 * nbf..exp.  Returns 0 with the claims, or -1 with why (no secret in
 * it, fit for a log line and the caller).
 */
int
jwt_verify(const char *pem, const char *kid, const char *token, time_t now,
    struct jwt_claims *cl, char *why, size_t whysz)
{
	gnutls_pubkey_t	 key = NULL;
	gnutls_datum_t	 data, sig;
	json_object	*hdr = NULL, *payload = NULL;
	const char	*dot1, *dot2;
	long long	 exp, nbf;
	unsigned char	*raw = NULL;
	size_t		 n, rawlen;
	int		 rc = -1;

	memset(cl, 0, sizeof(*cl));
	n = strlen(token);
	if (n > LIM_JWT || (dot1 = strchr(token, '.')) == NULL ||
	    (dot2 = strchr(dot1 + 1, '.')) == NULL ||
	    strchr(dot2 + 1, '.') != NULL) {
		snprintf(why, whysz, "not a JWT");
		goto out;
	}
	if ((hdr = segment(token, (size_t)(dot1 - token))) == NULL ||
	    (payload = segment(dot1 + 1, (size_t)(dot2 - dot1 - 1))) == NULL) {
		snprintf(why, whysz, "not a JWT");
		goto out;
	}
	if (!json_object_is_type(hdr, json_type_object) ||
	    !json_object_is_type(payload, json_type_object)) {
		snprintf(why, whysz, "not a JWT");
		goto out;
	}
	if (!field_is(hdr, "alg", "RS512")) {
		snprintf(why, whysz, "algorithm is not RS512");
		goto out;
	}
	if (kid != NULL && !field_is(hdr, "kid", kid)) {
		snprintf(why, whysz, "issued for another gateway");
		goto out;
	}
	if ((key = key_load(pem)) == NULL) {
		snprintf(why, whysz, "the gateway key is unusable");
		goto out;
	}
	if (b64url_decode(dot2 + 1, strlen(dot2 + 1), &raw, &rawlen) == -1) {
		snprintf(why, whysz, "not a JWT");
		goto out;
	}
	data.data = (unsigned char *)(uintptr_t)token;
	data.size = (unsigned int)(dot2 - token);
	sig.data = raw;
	sig.size = (unsigned int)rawlen;
	if (gnutls_pubkey_verify_data2(key, GNUTLS_SIGN_RSA_SHA512, 0, &data,
	    &sig) < 0) {
		snprintf(why, whysz, "signature verification failed");
		goto out;
	}
	if (claim_time(payload, "exp", -1, &exp) == -1 ||
	    claim_time(payload, "nbf", 0, &nbf) == -1) {
		snprintf(why, whysz, "a time claim is not a number");
		goto out;
	}
	if (exp < (long long)now - JWT_LEEWAY) {
		snprintf(why, whysz, "expired");
		goto out;
	}
	if (nbf > (long long)now + JWT_LEEWAY) {
		snprintf(why, whysz, "not valid yet");
		goto out;
	}
	if (claim_who(payload, "app", "app_code", cl->app_code,
	    sizeof(cl->app_code), &cl->app_verified) == -1 ||
	    claim_who(payload, "user", "username", cl->username,
	    sizeof(cl->username), &cl->user_verified) == -1) {
		memset(cl, 0, sizeof(*cl));
		snprintf(why, whysz, "a claim has the wrong type");
		goto out;
	}
	rc = 0;
out:
	if (key != NULL)
		gnutls_pubkey_deinit(key);
	free(raw);
	json_object_put(hdr);
	json_object_put(payload);
	return rc;
}
