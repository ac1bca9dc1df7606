/*
 * The floor to compare against: a FastCGI responder that reads the body
 * and answers a fixed JSON envelope, nothing else.
 */
#include <stdio.h>
#include <string.h>

#include <fcgiapp.h>

int
main(void)
{
	FCGX_Request	 r;
	char		 buf[4096];
	const char	*body = "{\"result\": true, \"code\": 0, \"message\": "
	    "\"Succeeded to send mail\", \"data\": null}";

	FCGX_Init();
	FCGX_InitRequest(&r, 0, 0);
	while (FCGX_Accept_r(&r) >= 0) {
		while (FCGX_GetStr(buf, sizeof(buf), r.in) > 0)
			;
		FCGX_FPrintF(r.out, "Status: 200 OK\r\nContent-Type: "
		    "application/json\r\nContent-Length: %d\r\n\r\n%s",
		    (int)strlen(body), body);
		FCGX_Finish_r(&r);
	}
	return 0;
}
