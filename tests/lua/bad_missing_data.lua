local d = archlab.data.text{ path = "/nonexistent/corpus.txt" }
