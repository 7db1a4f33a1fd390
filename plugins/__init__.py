"""Built-in adapters, each a pluggy plugin registered like a third-party one."""
