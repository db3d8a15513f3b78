"""Performance model of LLM inference (architecture counts now; step times in a later issue)."""
