#ifndef KLIMAVAGT_CGPIOD_SHIM_H
#define KLIMAVAGT_CGPIOD_SHIM_H

// One small C interface over libgpiod 1.6 (Debian 12, Raspberry Pi OS bookworm) and libgpiod 2.x (Debian 13,
// Raspberry Pi OS trixie), chosen when the package is built.
//
// Why a shim: 2.x is a different API (line settings, configs and requests instead of line handles, an edge event
// buffer instead of event_read_multiple), and neither version has a version macro. 1.6's gpiod.h defines GPIOD_BIT,
// 2.x's does not, so `#if defined(GPIOD_BIT)` selects. Swift cannot choose between two system-library modules
// (canImport is true for the 1.x module even where it does not compile), so the choice is made here, and
// KlimavagtGPIO sees only the prefixed functions below, the same with either.
//
// Every function returns -1 or NULL with errno set on failure, as libgpiod itself does.

#include <gpiod.h>
#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/// What the Swift side reads of one line.
struct klimavagt_gpio_line_info {
    char name[64];
    char consumer[64];
    bool has_name;
    bool has_consumer;
    bool output;
    bool active_low;
    /// 0 unknown, 1 disabled, 2 pull-up, 3 pull-down.
    int bias;
    bool used;
};

/// One edge: rising or falling, with its kernel timestamp (CLOCK_MONOTONIC, ns).
struct klimavagt_gpio_edge {
    bool rising;
    int64_t timestamp_ns;
};

/// What the Swift side reads of one chip.
struct klimavagt_gpio_chip_info {
    char name[32];
    char label[64];
    unsigned int lines;
};

static inline void klimavagt_gpio_copy(char *to, size_t size, const char *from) {
    if (from == NULL) { to[0] = 0; return; }
    snprintf(to, size, "%s", from);
}

#if defined(GPIOD_BIT)
// ---------------------------------------------------------------------------------------------------------------
// libgpiod 1.6

typedef struct gpiod_chip klimavagt_gpio_chip;
// A request (an untyped pointer, the same to Swift with either version) is the requested line; its chip handle
// must stay open as long as it (1.6 frees lines with the chip).

/// Opens a chip by path, name, label or number.
static inline klimavagt_gpio_chip *klimavagt_gpio_chip_open(const char *descriptor) {
    return gpiod_chip_open_lookup(descriptor);
}

static inline void klimavagt_gpio_chip_close(klimavagt_gpio_chip *chip) { gpiod_chip_close(chip); }

static inline void klimavagt_gpio_chip_describe(klimavagt_gpio_chip *chip, struct klimavagt_gpio_chip_info *out) {
    klimavagt_gpio_copy(out->name, sizeof out->name, gpiod_chip_name(chip));
    klimavagt_gpio_copy(out->label, sizeof out->label, gpiod_chip_label(chip));
    out->lines = gpiod_chip_num_lines(chip);
}

static inline int klimavagt_gpio_line_describe(klimavagt_gpio_chip *chip, unsigned int offset,
                                               struct klimavagt_gpio_line_info *out) {
    struct gpiod_line *line = gpiod_chip_get_line(chip, offset);
    if (line == NULL) return -1;
    if (gpiod_line_update(line) != 0) return -1;
    const char *name = gpiod_line_name(line);
    const char *consumer = gpiod_line_consumer(line);
    out->has_name = name != NULL;
    out->has_consumer = consumer != NULL;
    klimavagt_gpio_copy(out->name, sizeof out->name, name);
    klimavagt_gpio_copy(out->consumer, sizeof out->consumer, consumer);
    out->output = gpiod_line_direction(line) == GPIOD_LINE_DIRECTION_OUTPUT;
    out->active_low = gpiod_line_active_state(line) == GPIOD_LINE_ACTIVE_STATE_LOW;
    switch (gpiod_line_bias(line)) {
    case GPIOD_LINE_BIAS_DISABLE: out->bias = 1; break;
    case GPIOD_LINE_BIAS_PULL_UP: out->bias = 2; break;
    case GPIOD_LINE_BIAS_PULL_DOWN: out->bias = 3; break;
    default: out->bias = 0; break;
    }
    out->used = gpiod_line_is_used(line);
    return 0;
}

/// The offset of the line called `name`, or -1 (errno ENOENT) if there is none.
static inline int klimavagt_gpio_line_find(klimavagt_gpio_chip *chip, const char *name) {
    struct gpiod_line *line = gpiod_chip_find_line(chip, name);
    if (line == NULL) { if (errno == 0) errno = ENOENT; return -1; }
    return (int)gpiod_line_offset(line);
}

/// Requests both edges of a line as an input. bias: 0 as is, 1 disabled, 2 pull-up, 3 pull-down.
static inline void *klimavagt_gpio_request_edges(klimavagt_gpio_chip *chip, unsigned int offset,
                                                                   const char *consumer, int bias, bool active_low) {
    struct gpiod_line *line = gpiod_chip_get_line(chip, offset);
    if (line == NULL) return NULL;
    int flags = active_low ? GPIOD_LINE_REQUEST_FLAG_ACTIVE_LOW : 0;
    if (bias == 1) flags |= GPIOD_LINE_REQUEST_FLAG_BIAS_DISABLE;
    if (bias == 2) flags |= GPIOD_LINE_REQUEST_FLAG_BIAS_PULL_UP;
    if (bias == 3) flags |= GPIOD_LINE_REQUEST_FLAG_BIAS_PULL_DOWN;
    struct gpiod_line_request_config config = {consumer, GPIOD_LINE_REQUEST_EVENT_BOTH_EDGES, flags};
    if (gpiod_line_request(line, &config, 0) != 0) return NULL;
    return line;
}

static inline int klimavagt_gpio_request_fd(void *handle) {
    struct gpiod_line *request = handle;
    return gpiod_line_event_get_fd(request);
}

static inline int klimavagt_gpio_request_value(void *handle) {
    struct gpiod_line *request = handle;
    return gpiod_line_get_value(request);
}

/// Reads up to `capacity` (at most 16) waiting edges; returns how many, or -1.
static inline int klimavagt_gpio_request_read_edges(void *handle, struct klimavagt_gpio_edge *out,
                                                    unsigned int capacity) {
    struct gpiod_line *request = handle;
    struct gpiod_line_event events[16];
    if (capacity > 16) capacity = 16;
    int count = gpiod_line_event_read_multiple(request, events, capacity);
    for (int index = 0; index < count; index++) {
        out[index].rising = events[index].event_type == GPIOD_LINE_EVENT_RISING_EDGE;
        out[index].timestamp_ns = (int64_t)events[index].ts.tv_sec * 1000000000 + events[index].ts.tv_nsec;
    }
    return count;
}

static inline void klimavagt_gpio_request_release(void *handle) { gpiod_line_release((struct gpiod_line *)handle); }

static inline int klimavagt_gpio_api_version(void) { return 1; }

#else
// ---------------------------------------------------------------------------------------------------------------
// libgpiod 2.x

typedef struct gpiod_chip klimavagt_gpio_chip;
// A request (an untyped pointer to Swift, as with 1.6) is a line request with the event buffer its reads use; it
// outlives its chip handle.
typedef struct klimavagt_gpio_request {
    struct gpiod_line_request *request;
    struct gpiod_edge_event_buffer *buffer;
    unsigned int offset;
} klimavagt_gpio_request;

/// Whether `text` is a decimal number.
static inline bool klimavagt_gpio_is_number(const char *text) {
    if (*text == 0) return false;
    for (; *text; text++) if (*text < '0' || *text > '9') return false;
    return true;
}

/// Opens a chip by path, name, label or number; 2.x opens by path only, so names and labels are looked up here by
/// reading the label of each /dev/gpiochip*.
static inline klimavagt_gpio_chip *klimavagt_gpio_chip_open(const char *descriptor) {
    char path[300];
    if (descriptor[0] == '/') return gpiod_chip_open(descriptor);
    if (klimavagt_gpio_is_number(descriptor)) {
        snprintf(path, sizeof path, "/dev/gpiochip%s", descriptor);
        return gpiod_chip_open(path);
    }
    if (strncmp(descriptor, "gpiochip", 8) == 0) {
        snprintf(path, sizeof path, "/dev/%s", descriptor);
        return gpiod_chip_open(path);
    }
    DIR *dev = opendir("/dev");
    if (dev == NULL) return NULL;
    struct dirent *entry;
    while ((entry = readdir(dev)) != NULL) {
        if (strncmp(entry->d_name, "gpiochip", 8) != 0) continue;
        snprintf(path, sizeof path, "/dev/%s", entry->d_name);
        struct gpiod_chip *chip = gpiod_chip_open(path);
        if (chip == NULL) continue;
        struct gpiod_chip_info *info = gpiod_chip_get_info(chip);
        bool match = info != NULL && strcmp(gpiod_chip_info_get_label(info), descriptor) == 0;
        if (info != NULL) gpiod_chip_info_free(info);
        if (match) { closedir(dev); return chip; }
        gpiod_chip_close(chip);
    }
    closedir(dev);
    errno = ENOENT;
    return NULL;
}

static inline void klimavagt_gpio_chip_close(klimavagt_gpio_chip *chip) { gpiod_chip_close(chip); }

static inline void klimavagt_gpio_chip_describe(klimavagt_gpio_chip *chip, struct klimavagt_gpio_chip_info *out) {
    struct gpiod_chip_info *info = gpiod_chip_get_info(chip);
    if (info == NULL) { out->name[0] = 0; out->label[0] = 0; out->lines = 0; return; }
    klimavagt_gpio_copy(out->name, sizeof out->name, gpiod_chip_info_get_name(info));
    klimavagt_gpio_copy(out->label, sizeof out->label, gpiod_chip_info_get_label(info));
    out->lines = (unsigned int)gpiod_chip_info_get_num_lines(info);
    gpiod_chip_info_free(info);
}

static inline int klimavagt_gpio_line_describe(klimavagt_gpio_chip *chip, unsigned int offset,
                                               struct klimavagt_gpio_line_info *out) {
    struct gpiod_line_info *info = gpiod_chip_get_line_info(chip, offset);
    if (info == NULL) return -1;
    const char *name = gpiod_line_info_get_name(info);
    const char *consumer = gpiod_line_info_get_consumer(info);
    out->has_name = name != NULL;
    out->has_consumer = consumer != NULL;
    klimavagt_gpio_copy(out->name, sizeof out->name, name);
    klimavagt_gpio_copy(out->consumer, sizeof out->consumer, consumer);
    out->output = gpiod_line_info_get_direction(info) == GPIOD_LINE_DIRECTION_OUTPUT;
    out->active_low = gpiod_line_info_is_active_low(info);
    switch (gpiod_line_info_get_bias(info)) {
    case GPIOD_LINE_BIAS_DISABLED: out->bias = 1; break;
    case GPIOD_LINE_BIAS_PULL_UP: out->bias = 2; break;
    case GPIOD_LINE_BIAS_PULL_DOWN: out->bias = 3; break;
    default: out->bias = 0; break;
    }
    out->used = gpiod_line_info_is_used(info);
    gpiod_line_info_free(info);
    return 0;
}

static inline int klimavagt_gpio_line_find(klimavagt_gpio_chip *chip, const char *name) {
    int offset = gpiod_chip_get_line_offset_from_name(chip, name);
    if (offset < 0 && errno == 0) errno = ENOENT;
    return offset;
}

static inline void *klimavagt_gpio_request_edges(klimavagt_gpio_chip *chip, unsigned int offset,
                                                                   const char *consumer, int bias, bool active_low) {
    klimavagt_gpio_request *made = NULL;
    struct gpiod_line_settings *settings = gpiod_line_settings_new();
    struct gpiod_line_config *line_config = gpiod_line_config_new();
    struct gpiod_request_config *request_config = gpiod_request_config_new();
    int saved = 0;
    if (settings == NULL || line_config == NULL || request_config == NULL) { saved = ENOMEM; goto done; }
    gpiod_line_settings_set_direction(settings, GPIOD_LINE_DIRECTION_INPUT);
    gpiod_line_settings_set_edge_detection(settings, GPIOD_LINE_EDGE_BOTH);
    gpiod_line_settings_set_active_low(settings, active_low);
    if (bias == 1) gpiod_line_settings_set_bias(settings, GPIOD_LINE_BIAS_DISABLED);
    if (bias == 2) gpiod_line_settings_set_bias(settings, GPIOD_LINE_BIAS_PULL_UP);
    if (bias == 3) gpiod_line_settings_set_bias(settings, GPIOD_LINE_BIAS_PULL_DOWN);
    if (gpiod_line_config_add_line_settings(line_config, &offset, 1, settings) != 0) { saved = errno; goto done; }
    gpiod_request_config_set_consumer(request_config, consumer);
    made = calloc(1, sizeof *made);
    if (made == NULL) { saved = ENOMEM; goto done; }
    made->offset = offset;
    made->buffer = gpiod_edge_event_buffer_new(16);
    if (made->buffer == NULL) { saved = ENOMEM; free(made); made = NULL; goto done; }
    made->request = gpiod_chip_request_lines(chip, request_config, line_config);
    if (made->request == NULL) {
        saved = errno;
        gpiod_edge_event_buffer_free(made->buffer);
        free(made);
        made = NULL;
    }
done:
    if (request_config != NULL) gpiod_request_config_free(request_config);
    if (line_config != NULL) gpiod_line_config_free(line_config);
    if (settings != NULL) gpiod_line_settings_free(settings);
    if (made == NULL) errno = saved;
    return made;
}

static inline int klimavagt_gpio_request_fd(void *handle) {
    klimavagt_gpio_request *request = handle;
    return gpiod_line_request_get_fd(request->request);
}

static inline int klimavagt_gpio_request_value(void *handle) {
    klimavagt_gpio_request *request = handle;
    return (int)gpiod_line_request_get_value(request->request, request->offset);
}

static inline int klimavagt_gpio_request_read_edges(void *handle, struct klimavagt_gpio_edge *out,
                                                    unsigned int capacity) {
    klimavagt_gpio_request *request = handle;
    if (capacity > 16) capacity = 16;
    int count = gpiod_line_request_read_edge_events(request->request, request->buffer, capacity);
    for (int index = 0; index < count; index++) {
        struct gpiod_edge_event *event = gpiod_edge_event_buffer_get_event(request->buffer, (unsigned long)index);
        out[index].rising = gpiod_edge_event_get_event_type(event) == GPIOD_EDGE_EVENT_RISING_EDGE;
        out[index].timestamp_ns = (int64_t)gpiod_edge_event_get_timestamp_ns(event);
    }
    return count;
}

static inline void klimavagt_gpio_request_release(void *handle) {
    klimavagt_gpio_request *request = handle;
    gpiod_line_request_release(request->request);
    gpiod_edge_event_buffer_free(request->buffer);
    free(request);
}

static inline int klimavagt_gpio_api_version(void) { return 2; }

#endif

#endif
