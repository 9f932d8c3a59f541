"""ReplyDesk: offline review replies drafted by a local, aligned language model."""

__version__ = "0.1.0"
