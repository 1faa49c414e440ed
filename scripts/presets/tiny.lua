-- tiny: ~0.2M parameters, trains in seconds on a CPU; for tests and teaching.
return { vocab_size = 256, d_model = 64, n_layers = 2, n_heads = 4, d_ff = 192, seq_len = 64 }
