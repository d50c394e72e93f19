#ifndef KLIMAVAGT_CMOSQUITTO_SHIM_H
#define KLIMAVAGT_CMOSQUITTO_SHIM_H

#include <mosquitto.h>

// Why: SSL_VERIFY_NONE is an OpenSSL macro that mosquitto_tls_opts_set expects; importing OpenSSL's headers for
// one integer would pull a second system library into the module.
static inline int klimavagt_mosq_tls_verify_none(void) { return 0; }

#endif
