/* Verifiable tasks: problem generation, reference solutions with a scratchpad, the rule-based checker, and
 * demonstration corpora (data/tasks.h). */
#include "data/tasks.h"

#include <math.h>
#include <stdarg.h>
#include <string.h>

static const char THINK_OPEN[] = "<think>", THINK_CLOSE[] = "</think>", ANSWER_OPEN[] = "<answer>",
                  ANSWER_CLOSE[] = "</answer>";

int task_addition_init(Task *t, int min_digits, int max_digits, double test_fraction) {
    memset(t, 0, sizeof *t);
    if (min_digits < 1 || min_digits > 9) return al_errorf("field 'min_digits' = %d must be in [1, 9]", min_digits);
    if (max_digits < 1 || max_digits > 9) return al_errorf("field 'digits' = %d must be in [1, 9]", max_digits);
    if (min_digits > max_digits)
        return al_errorf("field 'min_digits' = %d is more than digits = %d", min_digits, max_digits);
    if (!(test_fraction > 0 && test_fraction <= 0.5))
        return al_errorf("field 'test_fraction' = %g must be in (0, 0.5]", test_fraction);
    t->kind = TASK_ADDITION;
    snprintf(t->name, sizeof t->name, "addition");
    t->min_digits = min_digits;
    t->max_digits = max_digits;
    t->test_fraction = test_fraction;
    snprintf(t->description, sizeof t->description, "addition of two %d-%d digit numbers (%.0f%% held out)",
             min_digits, max_digits, 100 * test_fraction);
    return 0;
}

int task_expression_init(Task *t, int min_ops, int max_ops, int max_operand, double test_fraction) {
    memset(t, 0, sizeof *t);
    if (min_ops < 1 || min_ops > 5) return al_errorf("field 'min_ops' = %d must be in [1, 5]", min_ops);
    if (max_ops < 1 || max_ops > 5) return al_errorf("field 'ops' = %d must be in [1, 5]", max_ops);
    if (min_ops > max_ops) return al_errorf("field 'min_ops' = %d is more than ops = %d", min_ops, max_ops);
    if (max_operand < 1 || max_operand > 99)
        return al_errorf("field 'max_operand' = %d must be in [1, 99]", max_operand);
    if (!(test_fraction > 0 && test_fraction <= 0.5))
        return al_errorf("field 'test_fraction' = %g must be in (0, 0.5]", test_fraction);
    t->kind = TASK_EXPRESSION;
    snprintf(t->name, sizeof t->name, "expression");
    t->min_ops = min_ops;
    t->max_ops = max_ops;
    t->max_operand = max_operand;
    t->test_fraction = test_fraction;
    snprintf(t->description, sizeof t->description,
             "arithmetic expressions of %d-%d operators (+ - *, * first) on integers 0-%d (%.0f%% held out)", min_ops,
             max_ops, max_operand, 100 * test_fraction);
    return 0;
}

/* FNV-1a, 64 bits: the split of a problem depends on its text only, so every run and every seed agree on it */
static uint64_t fnv1a(const char *s) {
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

int task_split_of(const Task *t, const char *prompt) {
    /* the top bits (the low bits of FNV-1a of short, similar strings are less mixed) */
    double u = (double)(fnv1a(prompt) >> 11) / 9007199254740992.0;
    return u < t->test_fraction ? TASK_SPLIT_TEST : TASK_SPLIT_TRAIN;
}

/* a number with exactly k digits (k = 1: 0..9) */
static long long draw_digits(Rng *rng, int k) {
    long long lo = 1;
    for (int i = 1; i < k; i++) lo *= 10;
    if (k == 1) return (long long)rng_below(rng, 10);
    return lo + (long long)rng_below(rng, (uint64_t)(9 * lo));
}

/* expression: operands and operators of one problem */
typedef struct { int n_ops; long long num[8]; char op[8]; } Expr;

static void expr_draw(const Task *t, Rng *rng, Expr *e) {
    e->n_ops = t->min_ops + (int)rng_below(rng, (uint64_t)(t->max_ops - t->min_ops + 1));
    for (int i = 0; i <= e->n_ops; i++) e->num[i] = (long long)rng_below(rng, (uint64_t)t->max_operand + 1);
    for (int i = 0; i < e->n_ops; i++) e->op[i] = "+-*"[rng_below(rng, 3)];
}

/* Evaluates with the usual precedence: the leftmost '*' first while any is left, then + and - left to right.
 * Each step is written "a<op>b=c" into the scratchpad (steps joined by ','), when steps != NULL. */
static long long expr_eval(Expr e, char *steps, size_t n) {
    size_t used = 0;
    if (steps) steps[0] = 0;
    while (e.n_ops > 0) {
        int i = 0;
        while (i < e.n_ops && e.op[i] != '*') i++;
        if (i == e.n_ops) i = 0; /* no '*' left: the leftmost + or - */
        long long a = e.num[i], b = e.num[i + 1];
        long long c = e.op[i] == '*' ? a * b : e.op[i] == '+' ? a + b : a - b;
        if (steps) used += (size_t)snprintf(steps + used, used < n ? n - used : 0, "%s%lld%c%lld=%lld", used ? "," : "", a, e.op[i], b, c);
        e.num[i] = c;
        for (int j = i + 1; j < e.n_ops; j++) { e.num[j] = e.num[j + 1]; e.op[j - 1] = e.op[j]; }
        e.n_ops--;
    }
    return e.num[0];
}

/* Problem text from its parts. Addition: a, b; expression: e. */
static void problem_text(const Task *t, long long a, long long b, const Expr *e, TaskProblem *p) {
    if (t->kind == TASK_ADDITION) {
        snprintf(p->prompt, sizeof p->prompt, "%lld+%lld=", a, b);
        snprintf(p->answer, sizeof p->answer, "%lld", a + b);
        return;
    }
    size_t used = 0;
    for (int i = 0; i <= e->n_ops; i++)
        used += (size_t)snprintf(p->prompt + used, sizeof p->prompt - used, "%lld%s", e->num[i],
                                 i < e->n_ops ? (char[]){e->op[i], 0} : "=");
    snprintf(p->answer, sizeof p->answer, "%lld", expr_eval(*e, NULL, 0));
}

int task_draw(const Task *t, Rng *rng, int split, TaskProblem *p) {
    for (int tries = 0; tries < 100000; tries++) {
        if (t->kind == TASK_ADDITION) {
            int da = t->min_digits + (int)rng_below(rng, (uint64_t)(t->max_digits - t->min_digits + 1));
            int db = t->min_digits + (int)rng_below(rng, (uint64_t)(t->max_digits - t->min_digits + 1));
            long long a = draw_digits(rng, da), b = draw_digits(rng, db);
            problem_text(t, a, b, NULL, p);
        } else {
            Expr e;
            expr_draw(t, rng, &e);
            problem_text(t, 0, 0, &e, p);
        }
        if (task_split_of(t, p->prompt) == split) return 0;
    }
    return al_errorf("%s: no %s problem in 100000 draws (the task is too small to hold out a part; use more digits "
                     "or operators)", t->name, split == TASK_SPLIT_TEST ? "held-out" : "training");
}

/* Reads the problem back from its prompt (the prompt is the problem's whole definition). */
static int parse_prompt(const char *s, Expr *e) {
    e->n_ops = 0;
    for (;;) {
        if (*s < '0' || *s > '9') return -1;
        long long v = 0;
        while (*s >= '0' && *s <= '9') {
            if (v > 100000000000000ll) return -1; /* 15 digits at most: no overflow */
            v = 10 * v + (*s++ - '0');
        }
        e->num[e->n_ops] = v;
        if (*s == '=') return s[1] ? -1 : 0;
        if ((*s != '+' && *s != '-' && *s != '*') || e->n_ops >= 7) return -1;
        e->op[e->n_ops++] = *s++;
    }
}

int task_problem_from_prompt(const Task *t, const char *prompt, TaskProblem *p) {
    Expr e;
    if (strlen(prompt) >= sizeof p->prompt || parse_prompt(prompt, &e))
        return al_errorf("field 'prompt' = \"%.40s\" is not a problem of the form %s", prompt,
                         t->kind == TASK_ADDITION ? "A+B=" : "A op B op ... = (op: + - *)");
    if (t->kind == TASK_ADDITION && (e.n_ops != 1 || e.op[0] != '+'))
        return al_errorf("field 'prompt' = \"%s\" is not an addition A+B=", prompt);
    if (t->kind == TASK_ADDITION) {
        long long a = e.num[0], b = e.num[1];
        if (a > 999999999 || b > 999999999) return al_errorf("field 'prompt' = \"%s\": operands of at most 9 digits", prompt);
        problem_text(t, a, b, NULL, p);
    } else {
        for (int i = 0; i <= e.n_ops; i++)
            if (e.num[i] > 99) return al_errorf("field 'prompt' = \"%s\": operands of at most 2 digits", prompt);
        problem_text(t, 0, 0, &e, p);
    }
    return 0;
}

int task_solution(const Task *t, const TaskProblem *p, int think, char *out) {
    char steps[TASK_TEXT_MAX / 2] = "";
    Expr e;
    AL_ASSERT(parse_prompt(p->prompt, &e) == 0);
    if (think && t->kind == TASK_ADDITION) {
        /* column by column from the units: x + y + carry = s, the carry being s's tens digit */
        long long a = e.num[0], b = e.num[1];
        int carry = 0;
        size_t used = 0;
        do {
            int x = (int)(a % 10), y = (int)(b % 10), s = x + y + carry;
            used += (size_t)snprintf(steps + used, sizeof steps - used, "%s%d+%d+%d=%d", used ? "," : "", x, y, carry, s);
            carry = s / 10;
            a /= 10;
            b /= 10;
        } while (a || b);
    } else if (think) {
        expr_eval(e, steps, sizeof steps);
    }
    int n = snprintf(out, TASK_TEXT_MAX, "%s%s%s%s%s%s%c", THINK_OPEN, steps, THINK_CLOSE, ANSWER_OPEN, p->answer,
                     ANSWER_CLOSE, TASK_STOP);
    AL_ASSERT(n > 0 && n < TASK_TEXT_MAX);
    return n;
}

/* the offset of needle in s[0..len), from `from`, or -1 */
static int find(const char *s, int len, int from, const char *needle) {
    int k = (int)strlen(needle);
    for (int i = from; i + k <= len; i++)
        if (!memcmp(s + i, needle, (size_t)k)) return i;
    return -1;
}

void task_check(const TaskProblem *p, const char *c, int len, TaskScore *s) {
    memset(s, 0, sizeof *s);
    s->think_len = -1;
    /* accuracy: the first answer block, wherever it is */
    int ao = find(c, len, 0, ANSWER_OPEN);
    int ac = ao >= 0 ? find(c, len, ao + (int)strlen(ANSWER_OPEN), ANSWER_CLOSE) : -1;
    if (ac >= 0) {
        int a0 = ao + (int)strlen(ANSWER_OPEN), n = ac - a0;
        if (n < TASK_ANSWER_MAX) {
            memcpy(s->given, c + a0, (size_t)n);
            s->given[n] = 0;
            s->accuracy = !strcmp(s->given, p->answer);
        }
    }
    /* format: <think>S</think><answer>A</answer><stop>, nothing before or after */
    int to = (int)strlen(THINK_OPEN);
    if (len < to || memcmp(c, THINK_OPEN, (size_t)to)) return;
    int tc = find(c, len, to, THINK_CLOSE);
    if (tc < 0) return;
    s->think_len = tc - to;
    for (int i = to; i < tc; i++)
        if (c[i] == '<' || c[i] == '>' || c[i] == TASK_STOP) return;
    int a0 = tc + (int)strlen(THINK_CLOSE);
    if (a0 != ao || ac < 0) return; /* the answer block must follow </think> directly */
    int b0 = ao + (int)strlen(ANSWER_OPEN);
    if (ac == b0) return;                                     /* empty answer */
    for (int i = b0; i < ac; i++)
        if (!((c[i] >= '0' && c[i] <= '9') || (c[i] == '-' && i == b0 && ac - b0 > 1))) return;
    int end = ac + (int)strlen(ANSWER_CLOSE);
    s->format = len == end + 1 && c[end] == TASK_STOP;
}

int task_max_completion(const Task *t) {
    TaskProblem p;
    char out[TASK_TEXT_MAX];
    if (t->kind == TASK_ADDITION) {
        /* the longest: max digits on both sides, a carry in every column (9...9 + 9...9) */
        long long a = 0;
        for (int i = 0; i < t->max_digits; i++) a = 10 * a + 9;
        problem_text(t, a, a, NULL, &p);
        return task_solution(t, &p, 1, out);
    }
    /* a bound: every step "a?b=c," with each number as wide as the largest magnitude any partial result can
     * reach, (n + 1) m^(n + 1) for n operators on operands up to m (>= 2), and a sign */
    int n = t->max_ops;
    double big = (n + 1) * pow(t->max_operand > 2 ? t->max_operand : 2, n + 1);
    int wr = (int)floor(log10(big)) + 2;
    int step = 3 * wr + 3;
    return (int)(strlen(THINK_OPEN) + strlen(THINK_CLOSE) + strlen(ANSWER_OPEN) + strlen(ANSWER_CLOSE)) + n * step + wr + 1;
}

int task_max_prompt(const Task *t) {
    if (t->kind == TASK_ADDITION) return 1 + 2 * t->max_digits + 2;
    int w = t->max_operand >= 10 ? 2 : 1;
    return 1 + (t->max_ops + 1) * w + t->max_ops + 1;
}

int task_corpus(DataSource *d, const Task *t, int n, double think_fraction, double val_fraction, uint64_t seed) {
    memset(d, 0, sizeof *d);
    if (n < 2) return al_errorf("field 'examples' = %d must be at least 2", n);
    if (!(think_fraction >= 0 && think_fraction <= 1))
        return al_errorf("field 'think' = %g must be in [0, 1]", think_fraction);
    if (!(val_fraction > 0 && val_fraction < 1)) return al_errorf("field 'val_fraction' = %g must be in (0, 1)", val_fraction);
    int n_val = (int)lround(n * val_fraction);
    if (n_val < 1) n_val = 1;
    if (n_val >= n) n_val = n - 1;
    int count[2] = {n - n_val, n_val};
    Rng rng;
    rng_init(&rng, seed);
    int rc = 0;
    for (int split = 0; split < 2 && !rc; split++) {
        size_t cap = (size_t)count[split] * (TASK_PROMPT_MAX + TASK_TEXT_MAX) + 2;
        uint8_t *buf = malloc(cap);
        if (!buf) { rc = al_errorf("out of memory for %d demonstrations", count[split]); break; }
        size_t used = 0;
        buf[used++] = TASK_BOS;
        for (int i = 0; i < count[split] && !rc; i++) {
            TaskProblem p;
            char sol[TASK_TEXT_MAX];
            if ((rc = task_draw(t, &rng, split == SPLIT_TRAIN ? TASK_SPLIT_TRAIN : TASK_SPLIT_TEST, &p))) break;
            int think = rng_uniform(&rng) < think_fraction;
            int k = task_solution(t, &p, think, sol);
            size_t pl = strlen(p.prompt);
            memcpy(buf + used, p.prompt, pl);
            memcpy(buf + used + pl, sol, (size_t)k); /* ends in '\n': the next problem's BOS */
            used += pl + (size_t)k;
        }
        d->split_bytes[split] = buf;
        d->split_len[split] = used;
    }
    rng_free(&rng);
    if (rc) { data_free(d); return -1; }
    d->kind = DATA_TEXT;
    snprintf(d->description, sizeof d->description, "%s: %d demonstrations (%.0f%% worked), %d of held-out problems",
             t->description, n, 100 * think_fraction, n_val);
    return 0;
}
