/* Verifiable tasks for reinforcement learning with rule-based rewards (DeepSeek-R1 sec. 2.2, at toy scale;
 * docs/EQUATIONS.md sec. 8). Byte-level text, generated from a seed, each problem with one exact answer:
 *
 *   addition     "57+68="      -> "<think>7+8+0=15,5+6+1=12</think><answer>125</answer>\n"
 *   expression   "3+4*5="      -> "<think>4*5=20,3+20=23</think><answer>23</answer>\n"
 *
 * A completion is a "think" scratchpad and a final answer between tags, ended by the stop byte '\n'; the
 * sequence a model reads is '\n' + prompt + completion, so demonstrations joined together (task_corpus) are
 * plain text in which every problem starts after a '\n', exactly as a prompt is presented at sampling time.
 * The checker gives R1's two rule-based rewards: accuracy (the answer between the tags is the exact answer)
 * and format (the completion is exactly <think>S</think><answer>A</answer> followed by the stop byte).
 *
 * Problems are split by a hash of their text into a training part and a held-out part (test_fraction of
 * them): demonstrations, RL prompts and distillation prompts come from the training part, evaluations from
 * the held-out one, so an accuracy measured on held-out problems is never one the model was trained on. */
#ifndef AL_TASKS_H
#define AL_TASKS_H
#include "core/common.h"
#include "core/rng.h"
#include "data/data.h"

typedef enum { TASK_ADDITION, TASK_EXPRESSION } TaskKind;
enum { TASK_SPLIT_TRAIN = 0, TASK_SPLIT_TEST = 1 };
enum { TASK_BOS = '\n', TASK_STOP = '\n' }; /* the byte before every prompt, and the byte ending a completion */
enum { TASK_PROMPT_MAX = 64, TASK_ANSWER_MAX = 32, TASK_TEXT_MAX = 512 };

typedef struct Task {
    TaskKind kind;
    char name[16];         /* "addition", "expression" */
    int min_digits, max_digits; /* addition: digits of each operand, drawn uniformly in [min, max] */
    int min_ops, max_ops;  /* expression: operators, drawn uniformly in [min, max] */
    int max_operand;       /* expression: operands uniform in [0, max_operand] */
    double test_fraction;  /* share of problems held out */
    char description[160];
} Task;

typedef struct TaskProblem {
    char prompt[TASK_PROMPT_MAX]; /* "57+68=" (no BOS) */
    char answer[TASK_ANSWER_MAX]; /* "125" */
} TaskProblem;

/* The checker's verdict on one completion. */
typedef struct TaskScore {
    int accuracy;                 /* 1: the text between the first <answer> and the next </answer> is the answer */
    int format;                   /* 1: exactly <think>S</think><answer>A</answer><stop>, S without '<' '>' or
                                     the stop byte, A an integer ("-"? digits) */
    int think_len;                /* bytes of S (-1 when there is no think block) */
    char given[TASK_ANSWER_MAX];  /* the answer found between the tags ("" when none) */
} TaskScore;

/* -1 + message naming the field when out of range: digits 1..9 (min <= max); ops 1..6, max_operand 1..99;
 * test_fraction in (0, 0.5]. */
int task_addition_init(Task *t, int min_digits, int max_digits, double test_fraction);
int task_expression_init(Task *t, int min_ops, int max_ops, int max_operand, double test_fraction);

/* A problem of the given split drawn from rng (rejection on the split's hash); -1 + message when the split
 * holds no problem within 100,000 draws (a task too small to hold out a part). */
int task_draw(const Task *t, Rng *rng, int split, TaskProblem *p);
/* The split a problem belongs to (a hash of its prompt). */
int task_split_of(const Task *t, const char *prompt);
/* The problem a prompt states ("57+68="), its answer computed; -1 + message when the text is not a prompt of this
 * task (its operators, operand sizes and the final '='). */
int task_problem_from_prompt(const Task *t, const char *prompt, TaskProblem *p);
/* The reference completion (ending in the stop byte): with the worked scratchpad when think = 1, an empty
 * scratchpad "<think></think>" when think = 0. Returns its length (< TASK_TEXT_MAX). */
int task_solution(const Task *t, const TaskProblem *p, int think, char *out);
/* Scores a completion of len bytes (what a model generated after the prompt, the stop byte included when
 * it was generated). */
void task_check(const TaskProblem *p, const char *completion, int len, TaskScore *s);
/* The longest reference completion any problem of the task has, in bytes (a bound for max_new). */
int task_max_completion(const Task *t);
/* The longest prompt, BOS included. */
int task_max_prompt(const Task *t);
/* A text source of n demonstrations ('\n' + prompt + reference completion, joined), share think_fraction of
 * them worked (the rest with an empty scratchpad): training problems in the train split, held-out problems in
 * the validation split (val_fraction of the examples), from seed. A DATA_TEXT source: archlab.train
 * pretrains on it. -1 + message on bad arguments. */
int task_corpus(DataSource *d, const Task *t, int n, double think_fraction, double val_fraction, uint64_t seed);
#endif
