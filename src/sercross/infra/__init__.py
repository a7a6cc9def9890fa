"""Infrastructure every stage uses: the cache and its atomic writes, the executors, terminal output, errors."""
