"""Files copied into Triton model repositories (not imported by spam_trainer itself)."""
