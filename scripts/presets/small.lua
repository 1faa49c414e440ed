-- small: ~1M parameters, the quickstart's model: about a minute of CPU training on the default corpus.
return { vocab_size = 256, d_model = 128, n_layers = 4, n_heads = 4, d_ff = 352, seq_len = 128 }
