/* requests — THE key table. One X-macro row per request: it drives key dispatch
 * (keys.c), the bottom hint line, and the `?` help screen, so the three never disagree.
 *
 *   X(id, label, short, help, views, flags, role, key1, key2, key3)
 *   views: VM_* mask where the request exists;  flags: RF_HINT (show in the hint line),
 *   RF_MUT (mutating: confirmation, role-gated, absent under --read-only);
 *   role: the capability the operator's role needs (RR_ANY, RR_OPS, RR_SUPPORT, RR_FINANCE, RR_TREASURY). */
#ifndef UI_REQUESTS_H
#define UI_REQUESTS_H
#include <curses.h>
#include <stdio.h>

enum {
    VM_PAYMENTS = 1 << 0, VM_DETAIL = 1 << 1, VM_EXC = 1 << 2, VM_EXC_ONE = 1 << 3,
    VM_WEBHOOKS = 1 << 4, VM_DELIVERIES = 1 << 5, VM_DELIVERY = 1 << 6, VM_AUDIT = 1 << 7,
    VM_AUDIT_ONE = 1 << 8, VM_RECON = 1 << 9, VM_BREAK = 1 << 10, VM_NETWORKS = 1 << 11,
    VM_PAYOUTS = 1 << 12, VM_PAYOUT = 1 << 13, VM_OVERVIEW = 1 << 14,
};
#define VM_LISTS (VM_PAYMENTS | VM_EXC | VM_WEBHOOKS | VM_DELIVERIES | VM_AUDIT | VM_RECON | VM_PAYOUTS)
#define VM_DOCS (VM_DETAIL | VM_EXC_ONE | VM_DELIVERY | VM_AUDIT_ONE | VM_BREAK | VM_NETWORKS | VM_PAYOUT)
#define VM_ALL 0x7fff
#define VM_SUB (VM_DETAIL | VM_EXC_ONE | VM_DELIVERIES | VM_DELIVERY | VM_AUDIT_ONE | VM_BREAK | VM_NETWORKS | \
                VM_PAYOUT)

enum { RF_HINT = 1, RF_MUT = 2 };
enum { RR_ANY, RR_OPS, RR_SUPPORT, RR_FINANCE, RR_TREASURY };

#define CTRL_(c) ((c) & 0x1f)
#define K_ESC 27
#define K_TAB '\t'
#define K_ENTER '\n'

#define REQUESTS(X) \
    X(REQ_QUIT, "q", "quit", "quit",                          VM_ALL, RF_HINT, RR_ANY, 'q', 0, 0) \
    X(REQ_HELP, "?", "help", "help: every key",               VM_ALL, RF_HINT, RR_ANY, '?', KEY_F(1), 0) \
    X(REQ_NEXTVIEW, "Tab", "view", "next view",                     VM_ALL, RF_HINT, RR_ANY, K_TAB, 0, 0) \
    X(REQ_PREVVIEW, "S-Tab", "prev", "previous view",                 VM_ALL, 0, RR_ANY, KEY_BTAB, 0, 0) \
    X(REQ_VIEW0, "0", "overview", "overview: the last hours as graphs", VM_ALL, 0, RR_ANY, '0', 0, 0) \
    X(REQ_VIEW1, "1", "payments", "payments",                      VM_ALL, 0, RR_ANY, '1', 0, 0) \
    X(REQ_VIEW2, "2", "exceptions", "exceptions",                    VM_ALL, 0, RR_ANY, '2', 0, 0) \
    X(REQ_VIEW3, "3", "webhooks", "webhooks",                      VM_ALL, 0, RR_ANY, '3', 0, 0) \
    X(REQ_VIEW4, "4", "audit", "audit log",                     VM_ALL, 0, RR_ANY, '4', 0, 0) \
    X(REQ_VIEW5, "5", "recon", "reconciliation",                VM_ALL, 0, RR_ANY, '5', 0, 0) \
    X(REQ_VIEW6, "6", "payouts", "payouts (money out)",           VM_ALL, 0, RR_ANY, '6', 0, 0) \
    X(REQ_UP, "k/↑", "up", "move up",                       VM_ALL, 0, RR_ANY, 'k', KEY_UP, 0) \
    X(REQ_DOWN, "j/↓", "down", "move down",                     VM_ALL, 0, RR_ANY, 'j', KEY_DOWN, 0) \
    X(REQ_TOP, "g", "top", "first row",                     VM_ALL, 0, RR_ANY, 'g', KEY_HOME, 0) \
    X(REQ_BOTTOM, "G", "bottom", "last row",                      VM_ALL, 0, RR_ANY, 'G', KEY_END, 0) \
    X(REQ_TAG, "Space", "tag", "tag/untag the row and move down (actions apply to the tagged rows)", VM_EXC | VM_DELIVERIES | VM_RECON, 0, RR_ANY, ' ', 0, 0) \
    X(REQ_TAGRANGE, "V", "range", "tag a range: V at one end, V at the other", VM_EXC | VM_DELIVERIES | VM_RECON, 0, RR_ANY, 'V', 0, 0) \
    X(REQ_TAGALL, "*", "tag all", "tag every row the filter matches (up to 1,000)", VM_EXC | VM_DELIVERIES | VM_RECON, 0, RR_ANY, '*', 0, 0) \
    X(REQ_UNTAG, "u", "untag", "clear the tags",                VM_EXC | VM_DELIVERIES | VM_RECON, 0, RR_ANY, 'u', 0, 0) \
    X(REQ_PGUP, "PgUp", "pgup", "page up",                       VM_ALL, 0, RR_ANY, KEY_PPAGE, CTRL_('b'), 0) \
    X(REQ_PGDN, "PgDn", "pgdn", "page down",                     VM_ALL, 0, RR_ANY, KEY_NPAGE, CTRL_('f'), ' ') \
    X(REQ_ENTER, "Enter", "open", "open the selected row (exception: its payment)", VM_LISTS | VM_EXC_ONE, RF_HINT, RR_ANY, K_ENTER, KEY_ENTER, 'l') \
    X(REQ_BACK, "Esc", "back", "back",                          VM_SUB, RF_HINT, RR_ANY, K_ESC, 'h', KEY_LEFT) \
    X(REQ_FILTER, "/", "filter", "filter rows (substring; !text inverts)", VM_LISTS, RF_HINT, RR_ANY, '/', 0, 0) \
    X(REQ_COMMAND, ":", "cmd", "command (:exceptions state=open, :q)", VM_ALL, RF_HINT, RR_ANY, ':', 0, 0) \
    X(REQ_PAUSE, "p", "pause", "pause/resume live updates",     VM_ALL, RF_HINT, RR_ANY, 'p', 0, 0) \
    X(REQ_REDRAW, "^L", "redraw", "redraw the screen",             VM_ALL, 0, RR_ANY, CTRL_('l'), 0, 0) \
    X(REQ_SORT, "s", "sort", "sort by the next column an index serves", VM_PAYMENTS | VM_EXC | VM_PAYOUTS, 0, RR_ANY, 's', 0, 0) \
    X(REQ_SORTREV, "S", "reverse", "reverse the sort",            VM_PAYMENTS | VM_EXC | VM_PAYOUTS, 0, RR_ANY, 'S', 0, 0) \
    X(REQ_COPYID, "y", "copy id", "copy the selected row's id (OSC 52, through tmux)", VM_LISTS, 0, RR_ANY, 'y', 0, 0) \
    X(REQ_COPYROW, "Y", "copy row", "copy the selected row as tab-separated text (OSC 52)", VM_LISTS, 0, RR_ANY, 'Y', 0, 0) \
    X(REQ_CLAIM, "c", "claim", "claim the exception",           VM_EXC | VM_EXC_ONE, RF_HINT | RF_MUT, RR_OPS, 'c', 0, 0) \
    X(REQ_RESOLVE, "r", "resolve", "resolve (menu of resolutions, note)", VM_EXC | VM_EXC_ONE, RF_HINT | RF_MUT, RR_OPS, 'r', 0, 0) \
    X(REQ_REOPEN, "o", "reopen", "reopen a resolved/dismissed exception", VM_EXC | VM_EXC_ONE, RF_HINT | RF_MUT, RR_OPS, 'o', 0, 0) \
    X(REQ_DISMISS, "d", "dismiss", "dismiss the exception (note)",  VM_EXC | VM_EXC_ONE, RF_HINT | RF_MUT, RR_OPS, 'd', 0, 0) \
    X(REQ_RETRY, "r", "retry", "retry the delivery now",        VM_DELIVERIES | VM_DELIVERY, RF_HINT | RF_MUT, RR_SUPPORT, 'r', 0, 0) \
    X(REQ_RECOVER, "v", "recover", "recover failed deliveries in a time window", VM_WEBHOOKS | VM_DELIVERIES, RF_HINT | RF_MUT, RR_SUPPORT, 'v', 0, 0) \
    X(REQ_DISABLE, "x", "disable", "disable the endpoint",          VM_WEBHOOKS, RF_HINT | RF_MUT, RR_SUPPORT, 'x', 0, 0) \
    X(REQ_ENABLE, "e", "enable", "enable the endpoint",           VM_WEBHOOKS, RF_HINT | RF_MUT, RR_SUPPORT, 'e', 0, 0) \
    X(REQ_RATELIMIT, "L", "ratelimit", "set or lift the endpoint's rate limit (deliveries a second)", VM_WEBHOOKS, RF_MUT, RR_SUPPORT, 'L', 0, 0) \
    X(REQ_ALLDELIV, "D", "deliveries", "all recent deliveries",         VM_WEBHOOKS, RF_HINT, RR_ANY, 'D', 0, 0) \
    X(REQ_ACK, "a", "ack", "acknowledge the break (note)",           VM_RECON | VM_BREAK, RF_HINT | RF_MUT, RR_FINANCE, 'a', 0, 0) \
    X(REQ_MATCH, "m", "match", "match the break to a payment (note)", VM_RECON | VM_BREAK, RF_HINT | RF_MUT, RR_FINANCE, 'm', 0, 0) \
    X(REQ_ESCALATE, "x", "escalate", "escalate the break to an exception", VM_RECON | VM_BREAK, RF_HINT | RF_MUT, RR_FINANCE, 'x', 0, 0) \
    X(REQ_JUMP_EXC, "x", "exceptions", "this payment's exceptions", VM_DETAIL, RF_HINT, RR_ANY, 'x', 0, 0) \
    X(REQ_JUMP_DELIV, "w", "webhooks", "this payment's webhook deliveries", VM_DETAIL, RF_HINT, RR_ANY, 'w', 0, 0) \
    X(REQ_JUMP_BREAK, "b", "breaks", "the reconciliation breaks under this payment's reference", VM_DETAIL, RF_HINT, RR_ANY, 'b', 0, 0) \
    X(REQ_JUMP_PAY, "P", "payment", "the payment this is about", VM_DELIVERY | VM_BREAK, RF_HINT, RR_ANY, 'P', 0, 0) \
    X(REQ_JUMP_EXCONE, "E", "exception", "the exception this break was escalated to", VM_BREAK, RF_HINT, RR_ANY, 'E', 0, 0) \
    X(REQ_EXPORT, "X", "export", "export open breaks as CSV to a file", VM_RECON, RF_HINT, RR_FINANCE, 'X', 0, 0) \
    X(REQ_APPROVE, "A", "approve", "approve the payout (note; four eyes)", VM_PAYOUTS | VM_PAYOUT, RF_HINT | RF_MUT, RR_TREASURY, 'A', 0, 0) \
    X(REQ_REJECT, "R", "reject", "reject the payout (note)",      VM_PAYOUTS | VM_PAYOUT, RF_HINT | RF_MUT, RR_TREASURY, 'R', 0, 0)

enum req {
#define X(id, label, shrt, help, views, flags, role, k1, k2, k3) id,
    REQUESTS(X)
#undef X
    REQ__COUNT
};

struct request_def {
    enum req id;
    const char *name;                 /* "REQ_CLAIM": what `bind = claim C` names (without REQ_) */
    const char *label, *shrt, *help;
    unsigned views;
    int flags, role;
    int keys[3];
};
extern struct request_def request_table[REQ__COUNT];   /* keys.c; `bind` lines change the keys */
/* `bind = NAME KEY` / `unbind = NAME` from the config file, applied in file order: 0 ok,
 * -1 with err (unknown request or key, a key another request already has). */
int keys_bind(const char *name, const char *key, char *err, size_t errlen);
int keys_unbind(const char *name, char *err, size_t errlen);
/* a request's keys as the help shows them ("c", "k Up", "PgDn ^F") */
void keys_text(const struct request_def *r, char *out, size_t n);
/* the views of a VM_* mask, for people ("everywhere", "payments, exceptions") */
const char *view_names(unsigned mask);
/* the key table as Markdown, for ui/README.md (railtop --keys-markdown) */
void keys_markdown(FILE *f);
#endif
