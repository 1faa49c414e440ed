local m = archlab.model{ preset = "tinny" }
