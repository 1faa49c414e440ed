-- quickstart: train a ~1M-parameter pre-norm transformer on English text (Debian's fortunes, byte-level)
-- for about a minute on the CPU, and compare its validation loss with the corpus's unigram entropy: the
-- loss of the best predictor that ignores context. Beating it by a wide margin means the model learned
-- to use context. Usage: bin/archlab experiments/quickstart.lua [steps]
local steps = tonumber(arg[1]) or 600

local data = archlab.data.text()            -- /usr/share/games/fortunes, 90/10 train/validation split
local model = archlab.model{ preset = "small", seed = 1 }
print(model:summary())
print(data)

local run = archlab.train{
  model = model, data = data, steps = steps, batch_size = 16, lr = 3e-3, warmup = 30,
  schedule = "cosine", eval_every = 100, eval_batches = 16, seed = 1,
  metrics = "out/quickstart.jsonl", label = "quickstart", log_every = 25,
}

local entropy = data:unigram_entropy()
print(string.format("steps %d, %.0f tokens/s with %d threads", run.steps, run.tokens_per_s, archlab.threads()))
print(string.format("final train loss      %.4f nats/byte", run.train_loss))
print(string.format("final validation loss %.4f nats/byte (%.3f bits/byte)", run.val_loss, run.val_loss / math.log(2)))
print(string.format("unigram entropy       %.4f nats/byte: validation loss is %.1f%% below it",
                    entropy, 100 * (1 - run.val_loss / entropy)))
print("loss series: out/quickstart.jsonl")

local val = run:series("val_loss")
val.marker = true
archlab.plot.lines{
  file = "out/quickstart_loss.png", title = "quickstart: small preset on fortunes", xlabel = "step",
  ylabel = "loss (nats/byte)", series = { run:series("loss"), val,
    { name = "unigram entropy", x = { 1, run.steps }, y = { entropy, entropy } } },
}
print("figure: out/quickstart_loss.png")
