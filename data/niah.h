/* Needle in a haystack at workbench scale (docs/EQUATIONS.md sec. 6): a synthetic key -> value fact
 * hidden in synthetic filler at depth d of a context of L tokens, and a query for the key at the end.
 *   BOS f f ... f [NEEDLE k v] f ... f [QUERY k]      -> the target at the last position is v
 * Token ids (inside a byte vocabulary): 1 BOS, 2 NEEDLE, 3 QUERY (distinct markers), keys from 4, values
 * after the keys, filler symbols after the values (i.i.d. uniform). Recall is exact match of v; chance is
 * 1 / values. As a training source (archlab.data.niah) each sequence draws its depth uniformly. */
#ifndef AL_NIAH_H
#define AL_NIAH_H
#include "data/data.h"

enum { NIAH_BOS = 1, NIAH_NEEDLE = 2, NIAH_QUERY = 3, NIAH_SYM = 4, NIAH_MIN_LEN = 8 };

/* -1 + message naming the field when the tokens would not fit in vocab_size. */
int data_niah_init(DataSource *d, int keys, int values, int filler, int vocab_size);
/* One haystack of L tokens with the needle starting at depth in [0, 1] of the filler region; targets are
 * -1 except the last position (the value). Returns the value token. */
int niah_sequence(const DataSource *d, Rng *rng, int L, double depth, int *tokens, int *targets);
/* Position where the needle marker lands for (L, depth). */
int niah_needle_pos(int L, double depth);
#endif
