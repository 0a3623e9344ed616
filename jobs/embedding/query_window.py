"""How much of a query an embedder tokenises: a long one is cut before the tokenizer sees it.

A query may be as long as the request body allows (megabytes), but the model reads only its first
`max_seq_length` tokens, and tokenising megabytes on the web process's event loop would stall every
other request. So a query is cut at CHARS_PER_TOKEN characters per token of the window first: real
tokens are a few characters long, so the cut never reaches text the model would read (only a very
long run of whitespace or of one unbroken "word" could), and it is reported as truncated.
"""

from __future__ import annotations

CHARS_PER_TOKEN = 32


def clip(text: str, max_seq_length: int) -> tuple[str, bool]:
    """The start of `text` worth tokenising for a window of `max_seq_length` tokens, and whether
    anything was cut off."""
    bound = max_seq_length * CHARS_PER_TOKEN
    return (text[:bound], True) if len(text) > bound else (text, False)


def truncated(clipped: bool, tokens: int, max_seq_length: int) -> bool:
    """Whether the model reads less than the whole query: it was clipped, or it has more tokens
    (special tokens included) than the window."""
    return clipped or tokens > max_seq_length
