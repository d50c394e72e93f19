#ifndef KLIMAVAGT_CGPIOD_SHIM_H
#define KLIMAVAGT_CGPIOD_SHIM_H

#include <gpiod.h>

// Why: GPIOD_LINE_REQUEST_FLAG_* are built with the GPIOD_BIT() macro, which Swift does not import as constants.
static inline int klimavagt_gpiod_flag_active_low(void) { return GPIOD_LINE_REQUEST_FLAG_ACTIVE_LOW; }
static inline int klimavagt_gpiod_flag_bias_disable(void) { return GPIOD_LINE_REQUEST_FLAG_BIAS_DISABLE; }
static inline int klimavagt_gpiod_flag_bias_pull_down(void) { return GPIOD_LINE_REQUEST_FLAG_BIAS_PULL_DOWN; }
static inline int klimavagt_gpiod_flag_bias_pull_up(void) { return GPIOD_LINE_REQUEST_FLAG_BIAS_PULL_UP; }

#endif
