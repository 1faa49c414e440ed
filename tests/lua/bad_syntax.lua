local m = archlab.model{ d_model = 64,
print("never reached"
