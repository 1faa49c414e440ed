local m = archlab.model{ residual = "mhc", streams = 0 }
