#ifndef TC3_H
#define TC3_H

#include <stddef.h>

#define TC3_HEX		65	/* SHA-256, lower-case hex, NUL */

/* What a TC3-HMAC-SHA256 signature covers (Tencent Cloud API 3.0). */
struct tc3_req {
	const char	*secret_id;	/* borrowed */
	const char	*secret_key;	/* borrowed: never logged */
	const char	*service;	/* borrowed: "sms", "vms" */
	const char	*host;		/* borrowed: Host as sent */
	const char	*content_type;	/* borrowed: as sent */
	const char	*body;		/* borrowed: the bytes sent */
	size_t		 bodylen;
	long long	 timestamp;	/* X-TC-Timestamp, unix seconds */
};

/* The steps of one signature, kept for tests and the header. */
struct tc3_sig {
	char	 date[16];		/* UTC date of the timestamp */
	char	 payload_hash[TC3_HEX];
	char	 creq_hash[TC3_HEX];	/* of the canonical request */
	char	 signature[TC3_HEX];
	char	 authorization[512];	/* the header's value */
};

int	 tc3_sha256_hex(const void *, size_t, char [TC3_HEX]);
int	 tc3_sign(const struct tc3_req *, struct tc3_sig *);
int	 tc3_v5sig(const char *, const char *, long long, const char *,
	    char [TC3_HEX]);

#endif /* TC3_H */
