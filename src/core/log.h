/* log — one structured line per event on stderr, logfmt:
 *   ts=2026-11-26T12:00:00.123Z level=info event=payment.transition payment=pay_… to=confirmed
 * Callers pass key=value pairs; never a key, secret or Authorization header. */
#ifndef CORE_LOG_H
#define CORE_LOG_H
#include <stdarg.h>

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR };
void log_set_level(enum log_level lvl);
void log_event(enum log_level lvl, const char *event, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define log_info(ev, ...)  log_event(LOG_INFO, ev, __VA_ARGS__)
#define log_warn(ev, ...)  log_event(LOG_WARN, ev, __VA_ARGS__)
#define log_error(ev, ...) log_event(LOG_ERROR, ev, __VA_ARGS__)
#endif
