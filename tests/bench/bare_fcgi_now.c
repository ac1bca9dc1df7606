/*
 * The bare responder closing at once, as cmsi.fcgi does once a request's
 * input is read to its end (see bare_fcgi.c).
 */
#define BARE_CLOSE_NOW
#include "bare_fcgi.c"
