"""openSMILE functionals per utterance: parallel, incremental extraction into the cache, and loading tables."""
