/*
 * libFuzzer: X-Bkapi-Jwt through jwt_verify.  The first byte picks the
 * mode.  Even: the input is the token as a client sends it, so every
 * check before the signature (the part anyone can reach without a key)
 * sees hostile bytes.  Odd: the input is a header and a payload JSON
 * separated by a newline, signed here with a key made for this target
 * only, so the claim checks after a good signature see hostile JSON
 * too (a null alg, a string exp, an app that is an array, ...).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <gnutls/abstract.h>
#include <gnutls/gnutls.h>

#include "lib/jwt.h"

/* A throwaway RSA key for this target; it signs nothing else. */
static const char fz_key[] =
	"-----BEGIN PRIVATE KEY-----\n"
	"MIIEvgIBADANBgkqhkiG9w0BAQEFAASCBKgwggSkAgEAAoIBAQDHAYKnk3dlkTK1\n"
	"vFJ3+E6azcNPnEK453ACJuQFWe+CUXCYitFDKI9Deu5I8MfO8z+tFSIcmT9lWjNw\n"
	"aiA0R8aZxSwZbfHV2bQv4ZC33VAFuQJPR4D881hPMYV+0px4VcFnH2nkaggzW1Lq\n"
	"CeA1t/QJjGNRkxPq6bH1ziiAELEchdXGMjFrii4SMCLvwl/CRmJ8GHT7NJRA5k7l\n"
	"rJlguE6ZDnhbVgsrV1C4jAcQ/ZOfjxPmx8Cvjq0Xoq0HGX9cMW+3a0XPigbggu/E\n"
	"mcLNwOEbpISNN5V1l9WnTJ7yBIifTWWZTofdxyWPAM60pA3rpJJ9ybcbr+60nXHX\n"
	"gY0bN0iVAgMBAAECggEAQIsRXJdb8JGcoEvBdY6Ps+6La30TONQ7RD9n0gJ+x0Xx\n"
	"nk/bmgwEFw8+TGLncwv6uYCyrRLY+F6+czXAVyR2WbYU3PSHLGQs6CCg5rk9NHXy\n"
	"NVNMFv43xIubr+vP+slZbkBGgGIRYdK7PBPS56lPWW9yYOkyWwzLfp0MDqkbQFPm\n"
	"5O5ZKvNcfBRUdoGRAzDXxeIl3Y4eKBaVhhgO8RNs7E9E1/1X33Be/gAdOVUzGqok\n"
	"0uoe3BLBIvYEIGE+lj+QXiVljBva9A2grUHKuxu/mPDB5J+P2gsmraw21iGvEjcQ\n"
	"eZ9DBAjPx+uoDIRST9/p65/4XlsNrorkFuuZYMOQOwKBgQD3CpzjrH1XvwYCJdxw\n"
	"hP8s3K8OrBfMrv3rm/6GbNX0gSwjXjop26Mw1gg4M+c7s6rF2wajEwxrH5tT76If\n"
	"6I8XbTNT9Ena+9paHnOrP6JM/Nx7pAhs0Na7nEXgHGoPUXyOlMV8z0WAP9UxBjzf\n"
	"RdYm9ErADVpIHIEcdBrkAYNAFwKBgQDOOPa4TSygwpjrd1GMAyNFUbqv7mNCFypB\n"
	"Oz6L9N+Wfacxw1mVOGhede5yzOUmlcfZ583J4rSfeCsa/QNqCEpsNs55P5Pvstyk\n"
	"SKbtG4P8cU1c/bayEEz3ITsL0KpHcXnsKiVMtGI5roqEPIFLqL+UEIKGLR6s/QUc\n"
	"ehbrh8kcMwKBgQDKyZ5x0fTuI3NmLfgfMT1acSkOLTw4G+l6D4pGhG65D5PQ0JeE\n"
	"JrR18Su8HvcQbfKgCaQQFyHZiY9yvkHiWX+kZlJ89wntRVI/KcIfb9PlyKegosz7\n"
	"rg6m4KgHSKvTOTu6uurGAkr19PAnFwy+5s/dGCmILy3OBgACAFjWk1tPLwKBgGwC\n"
	"T85ltUsZwOgK3W4cspt62/GLRPd3lI0Hz5GUFosGkswwibnrClb3I4WDJT3ZUwwh\n"
	"KZpkn7+qO8Ft5Rzi7L/S0L+WehAgOQned3dWYwGUAjYDOG34tab2A6wDhTvYBkiY\n"
	"JmMPUybs8OWjnwCWiIivQP2vohJujv/EPj7sJnwbAoGBAJsMhx4YSsJ7GqtP7JZw\n"
	"mEixC4ixit+u5Na9FINBt43jbL9wW2VjOo2r3TX+bpx+A0ZDirKgKq3G79SvC/Re\n"
	"1L5wkXD/w93W1nSe7CzeHJZTkldbEFq7iIiDBlGK29dyADV6z+eXIlGoNzzS7AEL\n"
	"X855GJt9nl4CWgpTKauWur+V\n"
	"-----END PRIVATE KEY-----\n"
;
static const char fz_pub[] =
	"-----BEGIN PUBLIC KEY-----\n"
	"MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAxwGCp5N3ZZEytbxSd/hO\n"
	"ms3DT5xCuOdwAibkBVnvglFwmIrRQyiPQ3ruSPDHzvM/rRUiHJk/ZVozcGogNEfG\n"
	"mcUsGW3x1dm0L+GQt91QBbkCT0eA/PNYTzGFftKceFXBZx9p5GoIM1tS6gngNbf0\n"
	"CYxjUZMT6umx9c4ogBCxHIXVxjIxa4ouEjAi78JfwkZifBh0+zSUQOZO5ayZYLhO\n"
	"mQ54W1YLK1dQuIwHEP2Tn48T5sfAr46tF6KtBxl/XDFvt2tFz4oG4ILvxJnCzcDh\n"
	"G6SEjTeVdZfVp0ye8gSIn01lmU6H3ccljwDOtKQN66SSfcm3G6/utJ1x14GNGzdI\n"
	"lQIDAQAB\n"
	"-----END PUBLIC KEY-----\n"
;

static gnutls_privkey_t	 fz_priv;

int	LLVMFuzzerInitialize(int *, char ***);
int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	gnutls_datum_t	 d;

	(void)argc;
	(void)argv;
	d.data = (unsigned char *)(uintptr_t)fz_key;
	d.size = sizeof(fz_key) - 1;
	if (gnutls_privkey_init(&fz_priv) < 0 ||
	    gnutls_privkey_import_x509_raw(fz_priv, &d, GNUTLS_X509_FMT_PEM,
	    NULL, 0) < 0)
		abort();
	return 0;
}

static void
b64url(const unsigned char *p, size_t n, char *out, size_t outsz)
{
	static const char	 a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "abcdefghijklmnopqrstuvwxyz0123456789-_";
	size_t			 i, o = 0;
	unsigned int		 v;

	for (i = 0; i < n && o + 5 < outsz; i += 3) {
		v = (unsigned int)p[i] << 16;
		if (i + 1 < n)
			v |= (unsigned int)p[i + 1] << 8;
		if (i + 2 < n)
			v |= p[i + 2];
		out[o++] = a[(v >> 18) & 63];
		out[o++] = a[(v >> 12) & 63];
		if (i + 1 < n)
			out[o++] = a[(v >> 6) & 63];
		if (i + 2 < n)
			out[o++] = a[v & 63];
	}
	out[o] = '\0';
}

static void
verify(const char *tok)
{
	struct jwt_claims	 cl;
	char			 why[128];

	(void)jwt_verify(fz_pub, "bk-cmsi", tok, time(NULL), &cl, why,
	    sizeof(why));
	(void)jwt_verify(fz_pub, NULL, tok, time(NULL), &cl, why,
	    sizeof(why));
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
	char		 tok[12288], *nl;
	char		 in[4096];
	gnutls_datum_t	 d, sig = { NULL, 0 };
	size_t		 len;

	if (n < 1 || n > sizeof(in))
		return 0;
	memcpy(in, data + 1, n - 1);
	in[n - 1] = '\0';
	if ((data[0] & 1) == 0) {
		verify(in);
		return 0;
	}
	if ((nl = strchr(in, '\n')) == NULL)
		return 0;
	*nl = '\0';
	b64url((unsigned char *)in, strlen(in), tok, sizeof(tok) / 3);
	len = strlen(tok);
	tok[len++] = '.';
	b64url((unsigned char *)nl + 1, strlen(nl + 1), tok + len,
	    sizeof(tok) / 3);
	len = strlen(tok);
	d.data = (unsigned char *)tok;
	d.size = (unsigned int)len;
	if (gnutls_privkey_sign_data(fz_priv, GNUTLS_DIG_SHA512, 0, &d,
	    &sig) < 0)
		return 0;
	tok[len++] = '.';
	b64url(sig.data, sig.size, tok + len, sizeof(tok) - len);
	gnutls_free(sig.data);
	verify(tok);
	return 0;
}
