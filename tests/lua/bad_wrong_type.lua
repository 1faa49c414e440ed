local m = archlab.model{
  d_model = "wide" }
