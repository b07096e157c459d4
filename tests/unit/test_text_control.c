/* util_text_control: free text may hold newline and tab, never another C0 control, DEL or a
 * C1 control (U+0080-U+009F); other UTF-8 passes. */
#include "core/util.h"
#include "tap.h"

int main(void)
{
    struct { const char *s; long long want; const char *what; } cases[] = {
        { "plain note", -1, "plain text" },
        { "two\nlines\tand a tab", -1, "newline and tab are allowed" },
        { "", -1, "empty" },
        { "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", -1, "other UTF-8 (é, €, an emoji)" },
        { "\xc2\xa0non-breaking space", -1, "U+00A0 is not a control" },
        { "bell\a", 7, "BEL" },
        { "cr\r\n", 13, "a carriage return" },
        { "\x1b[31mred", 27, "an escape sequence" },
        { "del\x7f", 127, "DEL" },
        { "c1 \xc2\x85 next line", 0x85, "U+0085 (NEL, C1)" },
        { "\xc2\x9b" "31m", 0x9b, "U+009B (CSI, C1)" },
        { "\xc2\x80", 0x80, "U+0080" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        is_int(util_text_control(cases[i].s), cases[i].want, "%s", cases[i].what);
    return tap_done();
}
