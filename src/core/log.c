#include "core/log.h"
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

static enum log_level min_level = LOG_INFO;
static const char *names[] = { "debug", "info", "warn", "error" };

void log_set_level(enum log_level lvl) { min_level = lvl; }

void log_event(enum log_level lvl, const char *event, const char *fmt, ...)
{
    if (lvl < min_level) return;
    char line[2048], ts[32];
    struct timeval tv;
    struct tm tm;
    gettimeofday(&tv, NULL);
    gmtime_r(&tv.tv_sec, &tm);
    strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%S", &tm);
    int n = snprintf(line, sizeof line, "ts=%s.%03dZ level=%s event=%s ", ts,
                     (int)(tv.tv_usec / 1000), names[lvl], event);
    if (n < 0 || (size_t)n >= sizeof line) n = (int)sizeof line - 1;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
    va_end(ap);
    /* one write per line so lines from threads do not interleave */
    size_t len = strnlen(line, sizeof line - 2);
    line[len] = '\n';
    fwrite(line, 1, len + 1, stderr);
}
