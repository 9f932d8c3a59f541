"""The chat engine protocol, llama.cpp engine, prompts, chat templates and claim checks."""
