#ifndef PWHASH_H
#define PWHASH_H

#include <stddef.h>

#include <json-c/json.h>

/*
 * Console passwords: "pbkdf2-sha256$<iterations>$<salt>$<key>", salt and
 * key in base64.  The string names its own algorithm and cost, so the
 * cost can rise later without breaking the hashes already written.
 */
#define PWHASH_ITER	600000	/* OWASP's 2023 figure for PBKDF2-SHA256 */
#define PWHASH_ITER_MIN	100000	/* below this a hash is refused */
#define PWHASH_ITER_MAX	10000000 /* above it a sign-in would stall */
#define PWHASH_SALT	16	/* bytes of random salt */
#define PWHASH_KEY	32	/* bytes of derived key */

struct pwhash {
	unsigned long	 iter;
	unsigned char	 salt[64];
	size_t		 saltlen;
	unsigned char	 key[64];
	size_t		 keylen;
};

int	 pwhash_make(const char *, size_t, char *, size_t);
int	 pwhash_parse(const char *, struct pwhash *);
int	 pwhash_conf_check(json_object *, char *, size_t);
int	 pwhash_verify(const char *, size_t, const char *);

#endif /* PWHASH_H */
