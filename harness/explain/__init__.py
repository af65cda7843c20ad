"""``bench explain``: the article's picture of the LSTM (one cell's gates, the chain unrolled over the
words, what the layer hands back), computed by the NumPy reference and by every backend, and the first
place where a backend parts from it."""
