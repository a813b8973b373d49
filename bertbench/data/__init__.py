"""Data: tokenizers, pretraining corpora, the task registry (GLUE and the synthetic suite) and task sources."""
