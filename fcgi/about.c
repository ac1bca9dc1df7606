/*
 * What cmsi.fcgi says about itself: --help and --version.  The
 * libraries are named as linked at run time where they can tell, since
 * a Debian update replaces them under the same binary, and as built
 * where they cannot (libfcgi, hiredis).
 */
#include <stdio.h>

#include <curl/curl.h>
#include <fcgi_config.h>
#include <gnutls/gnutls.h>
#include <hiredis/hiredis.h>
#include <json-c/json.h>
#include <libxml/xmlversion.h>
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "about.h"

#ifndef CMSI_VERSION
#define CMSI_VERSION	"dev"
#endif

/* The synopsis; the man page, cmsi.fcgi(8), says the rest. */
void
about_usage(FILE *f)
{
	fprintf(f,
	    "usage: cmsi.fcgi [-t] [-c conf] [-s unix:/path | -s host:port]\n"
	    "       cmsi.fcgi --drain [-c conf]\n"
	    "       cmsi.fcgi --import component [-c conf] [--user name] "
	    "< values\n"
	    "       cmsi.fcgi --hash-password < password\n"
	    "       cmsi.fcgi -h | --help | --version\n"
	    "\n"
	    "  -c conf      the config file (else $CMSI_CONF, else cmsi.json\n"
	    "               beside the program, else conf/cmsi.json)\n"
	    "  -s spec      open this socket instead of the one the web\n"
	    "               server, spawn-fcgi or systemd hands over\n"
	    "  -t           check the config, schemas, templates and state\n"
	    "               directory as this user, print each problem, exit\n"
	    "  --drain      one pass over the retry spool, then exit\n"
	    "  --hash-password  a console password hash from stdin\n"
	    "  --import name    write ESB's Component Configuration values\n"
	    "               (\"key: value\" lines or JSON, on stdin) into\n"
	    "               components.<name>, checked and kept in History\n"
	    "  --user name  who --import records in History (default import)\n"
	    "  -h, --help   this text\n"
	    "  --version    version and the libraries it runs with\n"
	    "\n"
	    "See cmsi.fcgi(8) and the manual in doc/.\n");
}

void
about_version(void)
{
	curl_version_info_data	*cv;
	char			 pcre[32];

	if (pcre2_config(PCRE2_CONFIG_VERSION, pcre) < 0)
		pcre[0] = '\0';
	printf("cmsi.fcgi %s\n", CMSI_VERSION);
	printf("built with cc %s\n", __VERSION__);
	printf("libfcgi %s (built with)\n", PACKAGE_VERSION);
	cv = curl_version_info(CURLVERSION_NOW);
	printf("libcurl %s (%s)\n", cv->version, cv->ssl_version != NULL ?
	    cv->ssl_version : "no TLS");
	printf("json-c %s\n", json_c_version());
	printf("libxml2 %s\n", LIBXML_DOTTED_VERSION);
	printf("GnuTLS %s\n", gnutls_check_version(NULL));
	printf("PCRE2 %s\n", pcre);
	printf("hiredis %d.%d.%d (built with)\n", HIREDIS_MAJOR,
	    HIREDIS_MINOR, HIREDIS_PATCH);
}
