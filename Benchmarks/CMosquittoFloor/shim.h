// libmosquitto for the footprint floor program; nothing else: it has no macros or variadics to wrap.
#include <mosquitto.h>
