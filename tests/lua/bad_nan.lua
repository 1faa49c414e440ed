local m = archlab.model{ d_model = 0/0 }
