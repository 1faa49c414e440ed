local m = archlab.model{ preset = "tiny", n_layers = 1 }
m:dump_grads{ tokens = { { 1, 2, 3, 4 } },
              targets = { { 2, 3, 4 } }, file = "/tmp/archlab_bad_dump.safetensors" }
