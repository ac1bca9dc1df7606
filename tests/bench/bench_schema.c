/*
 * Validations per second of a typical send_mail request (ten receivers,
 * one attachment) against a schema shaped like the gateway's.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <json.h>

#include "lib/schema.h"

#include "bench.h"

static const char schema_text[] =
"{"
"  \"$schema\": \"https://json-schema.org/draft/2020-12/schema\","
"  \"title\": \"send mail\","
"  \"type\": \"object\","
"  \"properties\": {"
"    \"sender\": {\"title\": \"sender\", \"type\": \"string\","
"      \"maxLength\": 254},"
"    \"receiver\": {\"title\": \"receivers\", \"type\": \"array\","
"      \"minItems\": 1, \"maxItems\": 1000,"
"      \"items\": {\"type\": \"string\", \"maxLength\": 254}},"
"    \"cc\": {\"title\": \"cc\", \"type\": \"array\", \"maxItems\": 1000,"
"      \"items\": {\"type\": \"string\", \"maxLength\": 254}},"
"    \"title\": {\"title\": \"email subject\", \"type\": \"string\","
"      \"maxLength\": 998},"
"    \"content\": {\"title\": \"email content\", \"type\": \"string\","
"      \"maxLength\": 8388608},"
"    \"is_content_base64\": {\"type\": \"boolean\"},"
"    \"body_format\": {\"enum\": [\"Html\", \"Text\"]},"
"    \"attachments\": {\"title\": \"attachments\", \"type\": \"array\","
"      \"maxItems\": 20,"
"      \"items\": {\"type\": \"object\","
"        \"properties\": {"
"          \"filename\": {\"title\": \"file name\", \"type\": \"string\","
"            \"maxLength\": 255},"
"          \"content\": {\"type\": \"string\", \"maxLength\": 8388608},"
"          \"type\": {\"type\": \"string\", \"maxLength\": 255},"
"          \"disposition\": {\"enum\": [\"attachment\", \"inline\"]},"
"          \"content_id\": {\"type\": \"string\", \"maxLength\": 255}"
"        },"
"        \"required\": [\"filename\", \"content\"],"
"        \"additionalProperties\": false}}"
"  },"
"  \"required\": [\"receiver\", \"title\"],"
"  \"allOf\": [{\"x-message\": \"content or attachments is required\","
"    \"anyOf\": [{\"required\": [\"content\"]},"
"    {\"required\": [\"attachments\"]}]}]"
"}";

static const char request_text[] =
"{"
"  \"sender\": \"noreply@example.org\","
"  \"receiver\": [\"r0@example.org\", \"r1@example.org\","
"    \"r2@example.org\", \"r3@example.org\", \"r4@example.org\","
"    \"r5@example.org\", \"r6@example.org\", \"r7@example.org\","
"    \"r8@example.org\", \"r9@example.org\"],"
"  \"cc\": [\"boss@example.org\"],"
"  \"title\": \"Monthly report \\u00e9t\\u00e9\","
"  \"content\": \"<p>Hello, please find the report attached.</p>\","
"  \"is_content_base64\": false,"
"  \"body_format\": \"Html\","
"  \"attachments\": [{\"filename\": \"report.pdf\","
"    \"content\": \"JVBERi0xLjQKJcfsj6IKNSAwIG9iago8PC9MZW5ndGggNiAwIFIvRmls\","
"    \"type\": \"application/pdf\", \"disposition\": \"attachment\","
"    \"content_id\": \"report\"}]"
"}";

int
main(void)
{
	json_object		*doc = NULL, *req = NULL;
	struct schema		*s = NULL;
	struct schema_err	 e;
	char			 err[256];
	double			 t0, dt;
	long			 n = 0, i;
	int			 rc = 1;

	if ((doc = json_tokener_parse(schema_text)) == NULL ||
	    (req = json_tokener_parse(request_text)) == NULL) {
		fprintf(stderr, "bench_schema: bad JSON\n");
		goto out;
	}
	if ((s = schema_load(doc, err, sizeof(err))) == NULL) {
		fprintf(stderr, "bench_schema: %s\n", err);
		goto out;
	}
	if (!schema_validate(s, req, &e)) {
		fprintf(stderr, "bench_schema: request invalid: %s at %s\n",
		    e.keyword, e.instance);
		goto out;
	}
	/* Batches until a second has passed, so the clock costs nothing. */
	t0 = bench_now();
	do {
		for (i = 0; i < 1000; i++)
			if (!schema_validate(s, req, &e))
				goto out;
		n += 1000;
		dt = bench_now() - t0;
	} while (dt < 1.0);
	printf("schema: %.0f validations/s\n", (double)n / dt);
	rc = 0;
 out:
	schema_free(s);
	json_object_put(doc);
	json_object_put(req);
	return rc;
}
