local m = archlab.model{ d_model = 65536, n_layers = 512, n_heads = 512, d_ff = 262144, seq_len = 8 }
