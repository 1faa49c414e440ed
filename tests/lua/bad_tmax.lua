local m = archlab.model{ residual = "mhc",
                         sinkhorn_iters = 0 }
