#include "ratio.h"

#include <stdio.h>
#include <string.h>

#include "json.h"
#include "numfmt.h"

static double class_ratio(const unsigned *counts, int n, int i)
{
    unsigned total = 0;
    for (int j = 0; j < n; j++)
        total += counts[j];
    return (double)counts[i] / (double)(total ? total : 1);
}

/* Locust computes weight * parent / sum of weights, in that order; (weight / sum) * parent
 * can differ in the last digit (2 * 0.75 / 5 is 0.3, 2 / 5 * 0.75 is 0.30000000000000004). */
static double task_ratio(const uclass *c, int t, double parent)
{
    int sum = 0;
    for (int i = 0; i < c->ntasks; i++)
        sum += c->tasks[i].weight;
    return (double)c->tasks[t].weight * parent / (double)(sum ? sum : 1);
}

/* Python's " %-10s %-50s" % (pad + "%-6.1f" % pct, pad + name): names are never cut. */
static void text_line(sbuf *out, int level, double ratio, const char *name)
{
    char pct[64], left[80];
    snprintf(pct, sizeof pct, "%-6.1f", ratio * 100);
    snprintf(left, sizeof left, "%*s%s", 2 * level, "", pct);
    sbuf_printf(out, " %-10s %*s%-*s\n", left, 2 * level, "", 50 - 2 * level, name);
}

static void text_tree(sbuf *out, uclass *const *classes, const unsigned *counts, int n,
                      bool total)
{
    for (int i = 0; i < n; i++) {
        double r = class_ratio(counts, n, i);
        text_line(out, 0, r, classes[i]->name);
        for (int t = 0; t < classes[i]->ntasks; t++)
            text_line(out, 1, task_ratio(classes[i], t, total ? r : 1.0),
                      classes[i]->tasks[t].name);
    }
}

void ratio_text(sbuf *out, uclass *const *classes, const unsigned *counts, int n)
{
    sbuf_puts(out, "\n Task ratio per User class\n");
    for (int i = 0; i < 80; i++)
        sbuf_putc(out, '-');
    sbuf_putc(out, '\n');
    text_tree(out, classes, counts, n, false);
    sbuf_puts(out, "\n Total task ratio\n");
    for (int i = 0; i < 80; i++)
        sbuf_putc(out, '-');
    sbuf_putc(out, '\n');
    text_tree(out, classes, counts, n, true);
}

/* Minimal pretty printer for the fixed shape of the ratio document. */
typedef struct pp {
    sbuf *out;
    int indent;
    int depth;
    unsigned flags;
} pp;

static void nl(pp *p)
{
    if (!p->indent)
        return;
    sbuf_putc(p->out, '\n');
    for (int i = 0; i < p->depth * p->indent; i++)
        sbuf_putc(p->out, ' ');
}

static void key(pp *p, const char *k, bool first)
{
    if (!first)
        sbuf_putc(p->out, ',');
    nl(p);
    json_write_string_flags(p->out, k, strlen(k), p->flags);
    sbuf_puts(p->out, p->indent ? ": " : ":");
}

static void ratio_value(pp *p, double r)
{
    char buf[NUMFMT_REPR_SIZE];
    numfmt_repr(buf, r);
    sbuf_puts(p->out, buf);
}

static void tree(pp *p, uclass *const *classes, const unsigned *counts, int n, bool total)
{
    sbuf_putc(p->out, '{');
    p->depth++;
    for (int i = 0; i < n; i++) {
        double r = class_ratio(counts, n, i);
        key(p, classes[i]->name, i == 0);
        sbuf_putc(p->out, '{');
        p->depth++;
        key(p, "ratio", true);
        ratio_value(p, r);
        key(p, "tasks", false);
        if (classes[i]->ntasks == 0) {
            sbuf_puts(p->out, "{}");
        } else {
            sbuf_putc(p->out, '{');
            p->depth++;
            for (int t = 0; t < classes[i]->ntasks; t++) {
                key(p, classes[i]->tasks[t].name, t == 0);
                sbuf_putc(p->out, '{');
                p->depth++;
                key(p, "ratio", true);
                ratio_value(p, task_ratio(classes[i], t, total ? r : 1.0));
                p->depth--;
                nl(p);
                sbuf_putc(p->out, '}');
            }
            p->depth--;
            nl(p);
            sbuf_putc(p->out, '}');
        }
        p->depth--;
        nl(p);
        sbuf_putc(p->out, '}');
    }
    p->depth--;
    if (n)
        nl(p);
    sbuf_putc(p->out, '}');
}

void ratio_json(sbuf *out, uclass *const *classes, const unsigned *counts, int n, int indent,
                unsigned json_flags)
{
    pp p = {out, indent, 0, json_flags};
    sbuf_putc(out, '{');
    p.depth = 1;
    key(&p, "per_class", true);
    p.depth = 1;
    tree(&p, classes, counts, n, false);
    key(&p, "total", false);
    tree(&p, classes, counts, n, true);
    p.depth = 0;
    nl(&p);
    sbuf_putc(out, '}');
}
