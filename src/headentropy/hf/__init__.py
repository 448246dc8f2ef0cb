"""HuggingFace `transformers` integration: attention implementation, monitor, model loading.

`transformers` is imported only when these modules are used, never by `import headentropy`.
"""
