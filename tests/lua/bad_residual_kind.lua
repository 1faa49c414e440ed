local m = archlab.model{ residual = "hyper" }
